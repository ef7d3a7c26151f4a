"""REST verbs for every resource: the HTTP face of ``Registry`` and the watch cache.

Paths are parsed once into a ``Target`` (resource, namespace, name,
subresource); each verb is a small coroutine that reads query parameters,
calls the registry, and renders JSON or a Table.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from machinery import errors
from machinery.resources import Resource, by_plural
from machinery.selectors import parse_field_selector, parse_label_selector

from . import tables
from .fields import make_predicate
from .registry import WriteOptions
from .wire import (TABLE_CONTENT_TYPE, decode_continue, encode_continue, json_response, patch_type,
                   query_bool, query_int, read_body, wants_table)

if TYPE_CHECKING:
    from .server import ApiServer

__all__ = ["Target", "parse_target", "handle"]

Obj = dict[str, Any]


@dataclass(slots=True)
class Target:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None
    rest: str  # path after the subresource (proxy)
    watch_path: bool


def _not_found() -> errors.NotFound:
    return errors.NotFound("the server could not find the requested resource")


def parse_target(group: str, version: str, parts: list[str]) -> Target:
    """Map path segments after ``/api/v1`` or ``/apis/<g>/<v>`` onto a resource."""
    watch_path = False
    if parts and parts[0] == "watch":
        watch_path = True
        parts = parts[1:]
    if not parts:
        raise _not_found()
    namespace: str | None = None
    if parts[0] == "namespaces" and len(parts) >= 3:
        candidate = by_plural(group, version, parts[2])
        if candidate is not None and candidate.namespaced:
            namespace = parts[1]
            parts = parts[2:]
    resource = by_plural(group, version, parts[0])
    if resource is None:
        raise _not_found()
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    rest = "/".join(parts[3:])
    if sub is not None and sub not in resource.subresources:
        raise _not_found()
    if rest and sub != "proxy":
        raise _not_found()
    if name == "":
        raise _not_found()
    return Target(resource, namespace, name, sub, rest, watch_path)


def _field_manager(request: Request) -> str:
    manager = request.query_params.get("fieldManager")
    if manager:
        if len(manager) > 128:
            raise errors.BadRequest("fieldManager: Too long: may not be longer than 128")
        return manager
    agent = request.headers.get("user-agent") or "unknown"
    return agent.split("/", 1)[0] or "unknown"


def _write_options(request: Request, *, default_validation: str = "Warn") -> WriteOptions:
    dry = request.query_params.getlist("dryRun")
    for d in dry:
        if d not in ("All", ""):
            raise errors.BadRequest(f'dryRun: Unsupported value: "{d}": supported values: "All"')
    validation = request.query_params.get("fieldValidation") or default_validation
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.BadRequest(f'fieldValidation: Unsupported value: "{validation}": supported values: '
                                '"Ignore", "Strict", "Warn"')
    return WriteOptions(dry_run=any(d == "All" for d in dry), field_manager=_field_manager(request),
                        field_validation=validation, force=query_bool(request, "force"))


def _respond(obj: Obj, status: int, opts: WriteOptions | None = None) -> Response:
    return json_response(obj, status, warnings=opts.warnings if opts else None)


async def handle(server: "ApiServer", request: Request, target: Target) -> Response:
    method = request.method
    r = target.resource
    if target.namespace is None and r.namespaced and target.name is not None:
        raise _not_found()
    if target.subresource is None:
        if target.name is None:
            if method == "GET":
                return await _list_or_watch(server, request, target)
            if method == "POST":
                return await _create(server, request, target)
            if method == "DELETE" and "deletecollection" in r.verbs:
                return await _delete_collection(server, request, target)
        else:
            if method == "GET":
                if query_bool(request, "watch") or target.watch_path:
                    return await _list_or_watch(server, request, target)
                return await _get(server, request, target)
            if method == "PUT":
                return await _update(server, request, target)
            if method == "PATCH":
                return await _patch(server, request, target)
            if method == "DELETE":
                return await _delete(server, request, target)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    return await server.subresources.handle(request, target)


# -- reads ----------------------------------------------------------------


async def _get(server: "ApiServer", request: Request, t: Target) -> Response:
    assert t.name is not None
    if request.query_params.get("resourceVersion") == "0":
        cache = server.cache(t.resource)
        await cache.wait_ready()
        obj = cache.get(f"{t.namespace}/{t.name}" if t.resource.namespaced else t.name)
        if obj is None:
            raise server.registry.not_found(t.resource, t.name)
    else:
        obj = await server.registry.get(t.resource, t.namespace, t.name)
    if wants_table(request):
        table = tables.to_table(t.resource, [obj], list_meta={"resourceVersion": obj["metadata"]["resourceVersion"]},
                                include_object=request.query_params.get("includeObject") or "Metadata")
        return json_response(table, content_type=TABLE_CONTENT_TYPE)
    return json_response(obj)


def _predicate(request: Request, t: Target) -> Any:
    labels = parse_label_selector(request.query_params.get("labelSelector"))
    fields = parse_field_selector(request.query_params.get("fieldSelector"))
    if t.name is not None:
        fields = parse_field_selector(
            ",".join(x for x in (f"metadata.name={t.name}", request.query_params.get("fieldSelector")) if x))
    return make_predicate(t.resource, t.namespace, labels, fields)


async def _list_or_watch(server: "ApiServer", request: Request, t: Target) -> Response:
    predicate = _predicate(request, t)
    if query_bool(request, "watch") or t.watch_path:
        return await _watch(server, request, t, predicate)
    limit = query_int(request, "limit") or 0
    if limit < 0:
        raise errors.BadRequest("limit must be a non-negative integer")
    cont = request.query_params.get("continue")
    rv = request.query_params.get("resourceVersion")
    r = t.resource
    if rv == "0" and not cont:
        cache = server.cache(r)
        await cache.wait_ready()
        items, revision = cache.list(predicate)
        next_token = None
    else:
        revision, start = decode_continue(cont) if cont else (0, "")
        items, revision, next_token = await _list_storage(server, t, predicate, limit, revision, start, rv)
    meta: Obj = {"resourceVersion": str(revision)}
    if next_token:
        meta["continue"] = next_token
    if wants_table(request):
        table = tables.to_table(r, items, list_meta=meta,
                                include_object=request.query_params.get("includeObject") or "Metadata")
        return json_response(table, content_type=TABLE_CONTENT_TYPE)
    body = {"kind": r.list_kind, "apiVersion": r.api_version, "metadata": meta, "items": items}
    return json_response(body)


async def _list_storage(server: "ApiServer", t: Target, predicate: Any, limit: int, revision: int,
                        start: str, rv: str | None) -> tuple[list[Obj], int, str | None]:
    from .storage import Compacted
    prefix = server.registry.collection_key(t.resource, t.namespace)
    if rv and rv != "0" and not revision:
        try:
            revision = int(rv)
        except ValueError:
            raise errors.BadRequest(f"invalid resource version {rv!r}") from None
    items: list[Obj] = []
    start_key = start or None
    page = max(limit, 250) if limit else 1000
    try:
        while True:
            objs, rev, more, last = await server.storage.list(prefix, start_key=start_key, limit=page,
                                                              revision=revision)
            revision = revision or rev
            for i, obj in enumerate(objs):
                if predicate(obj):
                    items.append(obj)
                    if limit and len(items) == limit:
                        key = server.registry.key(t.resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                        has_more = more or i < len(objs) - 1
                        return items, revision, encode_continue(revision, key + "\0") if has_more else None
            if not more or last is None:
                return items, revision, None
            start_key = last + "\0"
    except Compacted:
        if start:
            raise errors.Expired("The provided continue parameter is too old to display a consistent list "
                                 "result. You can start a new list without the continue parameter.") from None
        raise errors.Expired(f"too old resource version: {revision}") from None


async def _watch(server: "ApiServer", request: Request, t: Target, predicate: Any) -> Response:
    rv = request.query_params.get("resourceVersion")
    since: int | None = None
    if rv not in (None, "", "0"):
        try:
            since = int(rv)
        except ValueError:
            raise errors.BadRequest(f"invalid resource version {rv!r}") from None
    timeout = query_int(request, "timeoutSeconds")
    bookmarks = query_bool(request, "allowWatchBookmarks")
    table = wants_table(request)
    cache = server.cache(t.resource)
    await cache.wait_ready()
    r = t.resource
    include = request.query_params.get("includeObject") or "Metadata"

    def encode(kind: str, obj: Obj, cached: bytes | None = None) -> bytes:
        if table and kind in ("ADDED", "MODIFIED", "DELETED"):
            obj = tables.to_table(r, [obj], list_meta={"resourceVersion": obj["metadata"].get("resourceVersion")},
                                  include_object=include)
        elif cached is not None:
            return cached
        return orjson.dumps({"type": kind, "object": obj}) + b"\n"

    async def stream() -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        events = cache.watch(since, predicate).__aiter__()
        pending: asyncio.Task[Any] | None = None
        try:
            while True:
                wait = server.bookmark_interval
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        return
                if pending is None:
                    pending = asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    if bookmarks:
                        yield orjson.dumps({"type": "BOOKMARK", "object": {
                            "kind": r.kind, "apiVersion": r.api_version,
                            "metadata": {"resourceVersion": str(max(cache.revision, since or 0))}}}) + b"\n"
                    continue
                task, pending = pending, None
                try:
                    ev = task.result()
                except StopAsyncIteration:
                    return
                except errors.ApiError as exc:
                    yield orjson.dumps({"type": "ERROR", "object": exc.to_status()}) + b"\n"
                    return
                yield encode(ev.type, ev.obj, ev.encode())
        finally:
            if pending is not None:
                pending.cancel()
                # The generator must be idle before it can be closed.
                await asyncio.gather(pending, return_exceptions=True)
            await events.aclose()  # type: ignore[attr-defined]

    media = TABLE_CONTENT_TYPE if table else "application/json"
    return StreamingResponse(stream(), media_type=media, headers={"Cache-Control": "no-cache"})


# -- writes ---------------------------------------------------------------


async def _create(server: "ApiServer", request: Request, t: Target) -> Response:
    body = await read_body(request)
    opts = _write_options(request)
    obj = await server.registry.create(t.resource, t.namespace, body, opts)
    return _respond(obj, 201, opts)


async def _update(server: "ApiServer", request: Request, t: Target) -> Response:
    assert t.name is not None
    body = await read_body(request)
    opts = _write_options(request)
    existed = True
    obj = await server.registry.update(t.resource, t.namespace, t.name, body, opts)
    return _respond(obj, 200 if existed else 201, opts)


async def _patch(server: "ApiServer", request: Request, t: Target, subresource: str | None = None) -> Response:
    assert t.name is not None
    ptype = patch_type_or_415(request)
    body = await read_body(request, patch=True)
    opts = _write_options(request, default_validation="Strict" if ptype == "apply" else "Warn")
    if ptype == "apply" and not request.query_params.get("fieldManager"):
        raise errors.BadRequest("PATCH requests with apply content type must specify fieldManager")
    obj = await server.registry.patch(t.resource, t.namespace, t.name, body, ptype, opts, subresource=subresource)
    return _respond(obj, 200, opts)


def patch_type_or_415(request: Request) -> str:
    try:
        return patch_type(request)
    except KeyError:
        raise errors.UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml, application/strategic-merge-patch+json") from None


async def _delete_options(request: Request) -> Obj:
    options: Obj = {}
    if request.headers.get("content-length") not in (None, "0") or request.headers.get("transfer-encoding"):
        raw = await request.body()
        if raw.strip():
            try:
                options = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.BadRequest(f"error decoding DeleteOptions: {exc}") from None
            if not isinstance(options, dict):
                raise errors.BadRequest("DeleteOptions must be an object")
    for key in ("propagationPolicy",):
        if request.query_params.get(key):
            options[key] = request.query_params[key]
    grace = query_int(request, "gracePeriodSeconds")
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    if request.query_params.get("orphanDependents") is not None:
        options["orphanDependents"] = query_bool(request, "orphanDependents")
    if options.get("gracePeriodSeconds") is not None and not isinstance(options["gracePeriodSeconds"], int):
        raise errors.BadRequest("gracePeriodSeconds must be an integer")
    return options


async def _delete(server: "ApiServer", request: Request, t: Target) -> Response:
    assert t.name is not None
    options = await _delete_options(request)
    dry = "All" in request.query_params.getlist("dryRun") or "All" in (options.get("dryRun") or [])
    obj = await server.registry.delete(t.resource, t.namespace, t.name, options, dry_run=dry)
    return json_response(obj, 200)


async def _delete_collection(server: "ApiServer", request: Request, t: Target) -> Response:
    options = await _delete_options(request)
    predicate = _predicate(request, t)
    dry = "All" in request.query_params.getlist("dryRun")
    items, revision, _ = await _list_storage(server, t, predicate, 0, 0, "", None)
    deleted = []
    for obj in items:
        try:
            deleted.append(await server.registry.delete(
                t.resource, obj["metadata"].get("namespace"), obj["metadata"]["name"], options, dry_run=dry))
        except errors.NotFound:
            continue
    r = t.resource
    return json_response({"kind": r.list_kind, "apiVersion": r.api_version,
                          "metadata": {"resourceVersion": str(revision)}, "items": deleted})
