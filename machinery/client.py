"""The asyncio REST client every k8py component talks to the API server through.

It speaks the Kubernetes wire protocol directly (paths from the resource table,
Status errors, chunked watch streams), so it works against k8py's API server
and against a real Kubernetes alike.  Failures always surface as
``machinery.errors`` classes: HTTP errors are parsed from their Status body,
and transport failures become ``ServiceUnavailable`` chained ``from`` the httpx
error, so callers handle one hierarchy.

One pooled ``httpx.AsyncClient`` serves all calls.  The pool has no connection
cap because each watch pins a connection for minutes: a cap would let a few
hundred informers starve ordinary requests.
"""

from __future__ import annotations

import asyncio
import builtins
import ssl
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpx
import orjson

from machinery import errors
from machinery.resources import Resource, lookup, resource_path
from machinery.watch import WatchEvent

__all__ = ["ApiClient", "ResourceRef", "resolve_resource", "PATCH_CONTENT_TYPES"]

ResourceRef = Resource | str

PATCH_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def resolve_resource(resource: ResourceRef) -> Resource:
    """Accept a ``Resource`` or anything kubectl accepts as a type name."""
    if isinstance(resource, Resource):
        return resource
    found = lookup(resource)
    if found is None:
        raise errors.NotFound(f'the server doesn\'t have a resource type "{resource}"')
    return found


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _compact(params: dict[str, Any]) -> dict[str, Any]:
    """Drop unset query parameters and spell booleans the way Go parses them."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


class ApiClient:
    """A connection to one API server with one identity."""

    def __init__(self, server: str, *, token: str | None = None, ca_file: str | None = None,
                 client_cert: tuple[str, str] | None = None, insecure: bool = False,
                 timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None,
                 user_agent: str = "k8py", namespace: str = "default",
                 ssl_context: ssl.SSLContext | None = None, max_retries: int = 10) -> None:
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.timeout = timeout
        self.max_retries = max_retries
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        verify: ssl.SSLContext | bool = ssl_context or self._ssl_context(
            ca_file, client_cert, insecure)
        self._http = httpx.AsyncClient(
            base_url=self.server,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            verify=verify,
            transport=transport,
            http1=True,
            http2=False,
        )

    @staticmethod
    def _ssl_context(ca_file: str | None, client_cert: tuple[str, str] | None,
                     insecure: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=ca_file)
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client_cert is not None:
            ctx.load_cert_chain(*client_cert)
        return ctx

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None) -> ApiClient:
        """Connect as a kubeconfig context says (kubectl's file lookup rules)."""
        from machinery import kubeconfig

        resolved = kubeconfig.load(path).context(context)
        return cls(resolved.server, token=resolved.token, namespace=resolved.namespace,
                   ssl_context=resolved.ssl_context())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # -- raw requests -------------------------------------------------------------

    @staticmethod
    def _error(response: httpx.Response) -> errors.ApiError:
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        err = errors.from_status(body, response.status_code, response.text)
        retry_after = response.headers.get("Retry-After")
        if err.retry_after is None and retry_after and retry_after.isdigit():
            err.retry_after = int(retry_after)
        return err

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: object = None, content: bytes | None = None,
                      content_type: str | None = None, headers: dict[str, str] | None = None,
                      accept: str | None = None) -> httpx.Response:
        """Send one request; an HTTP error raises the matching ``ApiError``.

        A 429 or 5xx that carries ``Retry-After`` is retried after that delay, as
        client-go does, since the server promised it had not acted on it.
        """
        send_headers = dict(headers or {})
        if json is not None:
            content = orjson.dumps(json)
            content_type = content_type or "application/json"
        if content_type:
            send_headers["Content-Type"] = content_type
        if accept:
            send_headers["Accept"] = accept
        query = _compact(params or {})
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.request(method, path, params=query,
                                                     content=content, headers=send_headers)
            except httpx.TransportError as exc:
                raise errors.ServiceUnavailable(f"{method} {path}: {exc!r}") from exc
            if response.status_code < 400:
                return response
            err = self._error(response)
            delay = err.retry_after
            if (response.status_code not in _RETRY_STATUSES or delay is None
                    or attempt == self.max_retries):
                raise err
            await asyncio.sleep(min(float(delay), self.timeout))
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, path, **kwargs)
        if not response.content:
            return {}
        result = orjson.loads(response.content)
        if not isinstance(result, dict):
            raise errors.InternalError(f"{method} {path}: expected a JSON object")
        return result

    def _namespace(self, resource: Resource, namespace: str | None,
                   obj: dict[str, Any] | None = None) -> str | None:
        if not resource.namespaced:
            return None
        return namespace or (_meta(obj).get("namespace") if obj else None) or self.namespace

    # -- typed verbs -----------------------------------------------------------------

    async def get(self, resource: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict[str, Any]:
        res = resolve_resource(resource)
        return await self._json(
            "GET", resource_path(res, self._namespace(res, namespace), name, subresource))

    async def list(self, resource: ResourceRef, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> dict[str, Any]:
        """One page of a list; ``namespace=None`` lists across all namespaces."""
        res = resolve_resource(resource)
        return await self._json("GET", resource_path(res, namespace if res.namespaced else None),
                                params={"labelSelector": label_selector,
                                        "fieldSelector": field_selector, "limit": limit,
                                        "continue": continue_,
                                        "resourceVersion": resource_version})

    async def list_all(self, resource: ResourceRef, namespace: str | None = None, *,
                       label_selector: str | None = None, field_selector: str | None = None,
                       page_size: int = 500) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item across pages, plus the list's resourceVersion to watch from.

        Items get ``kind``/``apiVersion`` filled in (list items omit them on the
        wire) so cached objects are self-describing.  If a continue token
        expires mid-way, the list restarts unpaged, as client-go's pager does.
        """
        res = resolve_resource(resource)
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        limit: int | None = page_size
        while True:
            try:
                page = await self.list(res, namespace, label_selector=label_selector,
                                       field_selector=field_selector, limit=limit,
                                       continue_=token)
            except (errors.Expired, errors.Gone):
                if token is None:
                    raise
                items, token, limit = [], None, None
                continue
            for item in page.get("items") or []:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            meta = _meta(page)
            token = meta.get("continue") or None
            if token is None:
                return items, str(meta.get("resourceVersion") or "")

    async def create(self, resource: ResourceRef, obj: dict[str, Any],
                     namespace: str | None = None, *, dry_run: bool = False,
                     field_manager: str | None = None, subresource: str | None = None,
                     name: str | None = None) -> dict[str, Any]:
        """POST a new object, or to a subresource such as ``pods/binding``."""
        res = resolve_resource(resource)
        target = (name or _meta(obj).get("name")) if subresource else None
        if subresource and not target:
            raise ValueError(f"creating {res.plural}/{subresource} needs an object name")
        path = resource_path(res, self._namespace(res, namespace, obj), target, subresource)
        return await self._json("POST", path, json=obj, params={
            "dryRun": "All" if dry_run else None, "fieldManager": field_manager})

    async def update(self, resource: ResourceRef, obj: dict[str, Any], *,
                     subresource: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes this conditional."""
        res = resolve_resource(resource)
        name = _meta(obj).get("name")
        if not name:
            raise ValueError("update needs metadata.name")
        path = resource_path(res, self._namespace(res, None, obj), name, subresource)
        return await self._json("PUT", path, json=obj, params={
            "dryRun": "All" if dry_run else None, "fieldManager": field_manager})

    async def update_status(self, resource: ResourceRef, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update(resource, obj, subresource="status")

    async def patch(self, resource: ResourceRef, name: str, patch: object,
                    namespace: str | None = None, *, patch_type: str = "merge",
                    subresource: str | None = None, field_manager: str | None = None,
                    force: bool | None = None, dry_run: bool = False) -> dict[str, Any]:
        """PATCH with one of ``json``, ``merge``, ``strategic`` or ``apply`` (server-side apply).

        ``patch`` may be ready-made bytes/str (e.g. YAML for apply) or a
        JSON-serialisable value.
        """
        content_type = PATCH_CONTENT_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"unknown patch type {patch_type!r}; "
                             f"expected one of {', '.join(PATCH_CONTENT_TYPES)}")
        if patch_type == "apply" and field_manager is None:
            field_manager = "k8py"  # the server rejects apply without a manager
        res = resolve_resource(resource)
        if isinstance(patch, str):
            body = patch.encode()
        elif isinstance(patch, bytes):
            body = patch
        else:
            body = orjson.dumps(patch)
        path = resource_path(res, self._namespace(res, namespace), name, subresource)
        return await self._json("PATCH", path, content=body, content_type=content_type, params={
            "fieldManager": field_manager, "force": force if patch_type == "apply" else None,
            "dryRun": "All" if dry_run else None})

    @staticmethod
    def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                        preconditions: dict[str, Any] | None, dry_run: bool) -> bytes:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        if dry_run:
            options["dryRun"] = ["All"]
        return orjson.dumps(options)

    async def delete(self, resource: ResourceRef, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None,
                     grace_period_seconds: int | None = None,
                     preconditions: dict[str, Any] | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        """DELETE one object; returns the object (if finalizers delay it) or a Status."""
        res = resolve_resource(resource)
        body = self._delete_options(propagation_policy, grace_period_seconds, preconditions,
                                    dry_run)
        return await self._json("DELETE", resource_path(res, self._namespace(res, namespace), name),
                                content=body, content_type="application/json")

    async def delete_collection(self, resource: ResourceRef, namespace: str | None = None, *,
                                label_selector: str | None = None,
                                field_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        res = resolve_resource(resource)
        body = self._delete_options(propagation_policy, None, None, False)
        return await self._json(
            "DELETE", resource_path(res, self._namespace(res, namespace)), content=body,
            content_type="application/json",
            params={"labelSelector": label_selector, "fieldSelector": field_selector})

    # -- watch ---------------------------------------------------------------------

    async def watch(self, resource: ResourceRef, namespace: str | None = None, *,
                    resource_version: str | None = None, label_selector: str | None = None,
                    field_selector: str | None = None, allow_bookmarks: bool = True,
                    timeout_seconds: int | None = None,
                    send_initial_events: bool = False,
                    accept: str | None = None) -> AsyncIterator[WatchEvent]:
        """Yield the events of one watch stream until the server ends it.

        An ERROR event raises its ``ApiError``; any 410 raises ``Expired`` so
        callers relist on one class.  Re-watching is the caller's business
        (see ``machinery.watch.Reflector``).  Use ``contextlib.aclosing`` to
        release the connection promptly when stopping early.  ``accept`` asks
        for another representation, e.g. the Table rows ``kubectl get -w`` prints.
        """
        res = resolve_resource(resource)
        params = _compact({
            "watch": True, "resourceVersion": resource_version,
            "labelSelector": label_selector, "fieldSelector": field_selector,
            "allowWatchBookmarks": True if allow_bookmarks or send_initial_events else None,
            "timeoutSeconds": timeout_seconds,
            "sendInitialEvents": True if send_initial_events else None,
            "resourceVersionMatch": "NotOlderThan" if send_initial_events else None,
        })
        read_timeout = None if timeout_seconds is None else timeout_seconds + self.timeout
        path = resource_path(res, namespace if res.namespaced else None)
        try:
            async with self._http.stream(
                    "GET", path, params=params, headers={"Accept": accept} if accept else None,
                    timeout=httpx.Timeout(self.timeout, read=read_timeout)) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._error(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield self._event(line)
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(f"watch {path}: {exc!r}") from exc

    @staticmethod
    def _event(line: str) -> WatchEvent:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise errors.InternalError(f"malformed watch event: {line[:200]!r}") from exc
        if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
            raise errors.InternalError(f"malformed watch event: {line[:200]!r}")
        if event.get("type") == "ERROR":
            status = event["object"]
            err = errors.from_status(status, int(status.get("code") or 500))
            if err.code == 410 and not isinstance(err, errors.Expired):
                raise errors.Expired(err.message) from err
            raise err
        return event  # type: ignore[return-value]
