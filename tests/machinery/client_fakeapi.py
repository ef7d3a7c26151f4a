"""A small in-memory Kubernetes API server behind ``httpx.MockTransport``.

It speaks just enough of the wire protocol (paths, Status errors, paging,
optimistic concurrency, chunked watch streams with bookmarks and 410 Expired)
to test the client, reflector, informer and leader elector without a real
server.  Tests drive it directly: ``compact()`` to expire old versions,
``end_watches()`` / ``break_watches()`` to end streams, ``fail`` hooks to inject
errors.  Every request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from machinery import errors
from machinery.resources import Resource, by_plural

Obj = dict[str, Any]
_END = object()


@dataclass
class Route:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(eq=False)
class Watcher:
    resource: Resource
    namespace: str | None
    selector: dict[str, str]
    bookmarks: bool
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)


def parse_path(path: str) -> Route:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.NotFound("the server could not find the requested resource")
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        nested = by_plural(group, version, rest[2])
        if nested is not None and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
    resource = by_plural(group, version, rest[0]) if rest else None
    if resource is None or len(rest) > 3:
        raise errors.NotFound("the server could not find the requested resource")
    return Route(resource, namespace, rest[1] if len(rest) > 1 else None,
                 rest[2] if len(rest) > 2 else None)


def selector_matches(selector: dict[str, str], obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def parse_selector(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(","))


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeApiServer:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[tuple[str | None, str], Obj]] = {}
        self.history: list[tuple[int, Resource, str, Obj]] = []
        self.rv = 100
        self.compacted = 0
        self.watchers: set[Watcher] = set()
        self.requests: list[httpx.Request] = []
        self.fail: list[Callable[[httpx.Request], httpx.Response | None]] = []
        self.page_tokens_expire = False
        self._uids = itertools.count(1)
        self.transport = httpx.MockTransport(self.handle)

    # -- direct manipulation ------------------------------------------------------
    def table(self, resource: Resource) -> dict[tuple[str | None, str], Obj]:
        return self.objects.setdefault((resource.group, resource.plural), {})

    def _record(self, resource: Resource, kind: str, obj: Obj) -> None:
        self.history.append((self.rv, resource, kind, copy.deepcopy(obj)))
        for watcher in list(self.watchers):
            if self._visible(watcher, resource, obj):
                watcher.queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})

    @staticmethod
    def _visible(watcher: Watcher, resource: Resource, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return (watcher.resource == resource
                and (watcher.namespace is None or meta.get("namespace") == watcher.namespace)
                and selector_matches(watcher.selector, obj))

    def put(self, resource: Resource, obj: Obj) -> Obj:
        """Create or overwrite an object as the server would, emitting a watch event."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace") if resource.namespaced else None, meta["name"])
        existed = key in self.table(resource)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        self.table(resource)[key] = obj
        self._record(resource, "MODIFIED" if existed else "ADDED", obj)
        return copy.deepcopy(obj)

    def remove(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        obj = self.table(resource).pop((namespace if resource.namespaced else None, name))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record(resource, "DELETED", obj)
        return copy.deepcopy(obj)

    def compact(self) -> None:
        """Forget history: watches from any version seen so far now get 410."""
        self.compacted = self.rv
        self.history.clear()

    def bookmark(self) -> None:
        self.rv += 1
        for watcher in self.watchers:
            if watcher.bookmarks:
                watcher.queue.put_nowait({"type": "BOOKMARK", "object": {
                    "kind": watcher.resource.kind, "apiVersion": watcher.resource.api_version,
                    "metadata": {"resourceVersion": str(self.rv)}}})

    def end_watches(self) -> None:
        for watcher in self.watchers:
            watcher.queue.put_nowait(_END)

    def break_watches(self) -> None:
        for watcher in self.watchers:
            watcher.queue.put_nowait(httpx.ReadError("connection reset"))

    async def wait_for_watchers(self, count: int = 1) -> None:
        for _ in range(1000):
            if len(self.watchers) >= count:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"expected {count} watchers, have {len(self.watchers)}")

    # -- HTTP ------------------------------------------------------------------------
    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for hook in list(self.fail):
            response = hook(request)
            if response is not None:
                return response
        try:
            return self._dispatch(request)
        except errors.ApiError as err:
            return httpx.Response(err.code, json=err.to_status())

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        route = parse_path(request.url.path)
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        method = request.method
        if method == "GET" and route.name is None and query.get("watch") == "true":
            return self._watch(route, query)
        if method == "GET" and route.name is None:
            return httpx.Response(200, json=self._list(route, query))
        if method == "GET":
            return httpx.Response(200, json=self._get(route))
        body = orjson.loads(request.content) if request.content else None
        if method == "POST":
            return httpx.Response(201, json=self._create(route, body, query))
        if method == "PUT":
            return httpx.Response(200, json=self._update(route, body, query))
        if method == "PATCH":
            current = self._get(route)
            patched = merge_patch(current, body)
            if query.get("dryRun"):
                return httpx.Response(200, json=patched)
            return httpx.Response(200, json=self.put(route.resource, patched))
        if method == "DELETE" and route.name is not None:
            self._get(route)
            return httpx.Response(200, json=self.remove(route.resource, route.namespace,
                                                        route.name))
        if method == "DELETE":
            selector = parse_selector(query.get("labelSelector"))
            for (ns, name), obj in list(self.table(route.resource).items()):
                if (route.namespace in (None, ns)) and selector_matches(selector, obj):
                    self.remove(route.resource, ns, name)
            return httpx.Response(200, json={"kind": "Status", "apiVersion": "v1",
                                             "status": "Success", "metadata": {}})
        raise errors.MethodNotAllowed(f"{method} not allowed")

    def _get(self, route: Route) -> Obj:
        assert route.name is not None
        obj = self.table(route.resource).get((route.namespace, route.name))
        if obj is None:
            raise errors.NotFound(f'{route.resource.qualified} "{route.name}" not found',
                                  name=route.name, kind=route.resource.plural)
        return copy.deepcopy(obj)

    def _list(self, route: Route, query: dict[str, str]) -> Obj:
        selector = parse_selector(query.get("labelSelector"))
        items = sorted(
            (obj for (ns, _), obj in self.table(route.resource).items()
             if route.namespace in (None, ns) and selector_matches(selector, obj)),
            key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        start = 0
        if query.get("continue"):
            if self.page_tokens_expire:
                raise errors.Expired("The provided continue parameter is too old")
            start = int(query["continue"])
        meta: Obj = {"resourceVersion": str(self.rv)}
        if query.get("limit"):
            end = start + int(query["limit"])
            if end < len(items):
                meta["continue"] = str(end)
            items = items[start:end]
        else:
            items = items[start:]
        stripped = []
        for obj in items:
            obj = copy.deepcopy(obj)
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            stripped.append(obj)
        return {"kind": route.resource.list_kind, "apiVersion": route.resource.api_version,
                "metadata": meta, "items": stripped}

    def _create(self, route: Route, body: Obj, query: dict[str, str]) -> Obj:
        if route.subresource == "binding":
            pod = self._get(route)
            pod.setdefault("spec", {})["nodeName"] = body["target"]["name"]
            self.put(route.resource, pod)
            return {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
        meta = body.setdefault("metadata", {})
        if route.resource.namespaced:
            meta["namespace"] = route.namespace
        if (meta.get("namespace"), meta["name"]) in self.table(route.resource):
            raise errors.AlreadyExists(
                f'{route.resource.qualified} "{meta["name"]}" already exists', name=meta["name"])
        if query.get("dryRun"):
            return body
        return self.put(route.resource, body)

    def _update(self, route: Route, body: Obj, query: dict[str, str]) -> Obj:
        current = self._get(route)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise errors.Conflict(
                f'Operation cannot be fulfilled on {route.resource.qualified} "{route.name}": '
                "the object has been modified; please apply your changes to the latest "
                "version and try again")
        if route.subresource == "status":
            current["status"] = body.get("status")
            body = current
        return self.put(route.resource, body)

    def _watch(self, route: Route, query: dict[str, str]) -> httpx.Response:
        watcher = Watcher(route.resource, route.namespace,
                          parse_selector(query.get("labelSelector")),
                          query.get("allowWatchBookmarks") == "true")
        since = query.get("resourceVersion") or "0"
        if since != "0" and int(since) < self.compacted:
            status = errors.Expired(f"too old resource version: {since} ({self.compacted})")
            watcher.queue.put_nowait({"type": "ERROR", "object": status.to_status()})
            watcher.queue.put_nowait(_END)
            return httpx.Response(200, stream=_WatchStream(self, watcher))
        if since == "0":
            for obj in self.table(route.resource).values():
                if self._visible(watcher, route.resource, obj):
                    watcher.queue.put_nowait({"type": "ADDED", "object": copy.deepcopy(obj)})
        else:
            for rv, resource, kind, obj in self.history:
                if rv > int(since) and self._visible(watcher, resource, obj):
                    watcher.queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})
        self.watchers.add(watcher)
        return httpx.Response(200, stream=_WatchStream(self, watcher),
                              headers={"Content-Type": "application/json"})


class _WatchStream(httpx.AsyncByteStream):
    def __init__(self, server: FakeApiServer, watcher: Watcher) -> None:
        self.server = server
        self.watcher = watcher

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                item = await self.watcher.queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield orjson.dumps(item) + b"\n"
        finally:
            self.server.watchers.discard(self.watcher)

    async def aclose(self) -> None:
        self.server.watchers.discard(self.watcher)
