"""Forwarding of pods/log, exec, attach, portforward and proxy to the pod's kubelet.

The API server is the only component clients talk to, so it relays these
streams: a plain HTTP stream for logs, and for the interactive ones the
client's WebSocket frame for frame to the kubelet's WebSocket with the same
subprotocol (the kubelet speaks the channel and SPDY framings itself).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

from machinery import errors
from machinery.resources import by_plural
from machinery.streams import StarletteTransport, WebSocketsTransport, connect_websocket, relay

from .handlers import parse_target
from .wire import status_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .handlers import Target
    from .server import ApiServer

__all__ = ["KubeletProxy"]

log = logging.getLogger("apiserver.proxy")

Obj = dict[str, Any]
_KUBELET_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward", "log": "containerLogs"}


class KubeletProxy:
    def __init__(self, server: "ApiServer") -> None:
        self.server = server
        self._http: httpx.AsyncClient | None = None

    @property
    def http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _kubelet_base(self, pod: Obj) -> str:
        node_name = (pod.get("spec") or {}).get("nodeName")
        name = pod["metadata"]["name"]
        if not node_name:
            raise errors.BadRequest(f"pod {name} does not have a host assigned")
        nodes = by_plural("", "v1", "nodes")
        assert nodes is not None
        node = await self.server.registry.get(nodes, None, node_name)
        status = node.get("status") or {}
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        address = next((a.get("address") for a in status.get("addresses") or []
                        if a.get("type") == "InternalIP"), None)
        if not port or not address:
            raise errors.ServiceUnavailable(f"node {node_name} has no kubelet endpoint")
        return f"http://{address}:{port}"

    async def _pod_and_container(self, t: "Target", query: dict[str, Any]) -> tuple[Obj, str]:
        pods = t.resource
        assert t.name is not None
        pod = await self.server.registry.get(pods, t.namespace, t.name)
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        init = [c.get("name") for c in spec.get("initContainers") or []]
        container = query.get("container")
        if not container:
            if len(names) != 1:
                raise errors.BadRequest(
                    f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(names)}]"
                    + (f" or one of the init containers: [{' '.join(init)}]" if init else ""))
            container = names[0]
        elif container not in names and container not in init:
            raise errors.BadRequest(f"container {container} is not valid for pod {t.name}")
        return pod, str(container)

    # -- plain HTTP: logs ---------------------------------------------------------

    async def http(self, request: Request, t: "Target") -> Response:
        if t.subresource != "log" or request.method != "GET":
            if t.subresource in ("exec", "attach", "portforward"):
                # kubectl retries a refused WebSocket over SPDY: report what is really
                # wrong (a missing pod, say) before the protocol complaint.
                assert t.name is not None
                await self.server.registry.get(t.resource, t.namespace, t.name)
                raise errors.BadRequest(f"{t.subresource} requires a WebSocket upgrade "
                                        "(Upgrade: websocket with a channel.k8s.io subprotocol)")
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        query = dict(request.query_params)
        pod, container = await self._pod_and_container(t, query)
        base = await self._kubelet_base(pod)
        params = {k: v for k, v in query.items() if k in (
            "follow", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "previous", "limitBytes")}
        url = f"{base}/containerLogs/{quote(t.namespace or '')}/{quote(t.name or '')}/{quote(container)}"
        try:
            upstream = await self.http_client.send(
                self.http_client.build_request("GET", url, params=params), stream=True)
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"error dialing kubelet: {exc}") from exc
        if upstream.status_code >= 400:
            body = await upstream.aread()
            await upstream.aclose()
            raise errors.from_status(_json_or_none(body), upstream.status_code, body.decode(errors="replace"))

        async def relay() -> Any:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), media_type="text/plain")

    # -- WebSockets: exec, attach, portforward ------------------------------------

    def add_websocket_routes(self, app: "FastAPI") -> None:
        app.router.add_websocket_route("/api/v1/namespaces/{namespace}/pods/{name}/{sub}", self._websocket)

    async def _websocket(self, ws: WebSocket) -> None:
        ns = ws.path_params["namespace"]
        name = ws.path_params["name"]
        sub = ws.path_params["sub"]
        offered = [p.strip() for p in (ws.headers.get("sec-websocket-protocol") or "").split(",") if p.strip()]
        try:
            t = parse_target("", "v1", ["namespaces", ns, "pods", name, sub])
            if sub not in ("exec", "attach", "portforward"):
                raise errors.BadRequest(f"{sub} does not support WebSocket upgrades")
            query = ws.query_params
            if sub == "portforward":
                assert t.name is not None
                pod = await self.server.registry.get(t.resource, ns, t.name)
                url_path = f"/portForward/{quote(ns)}/{quote(name)}"
            else:
                pod, container = await self._pod_and_container(t, dict(query))
                if sub == "exec" and not query.getlist("command"):
                    raise errors.BadRequest("you must specify at least 1 command")
                url_path = f"/{_KUBELET_PATHS[sub]}/{quote(ns)}/{quote(name)}/{quote(container)}"
            base = await self._kubelet_base(pod)
        except errors.ApiError as exc:
            # A non-101 reply with a Status body: kubectl shows the message.
            await ws.send_denial_response(status_response(exc))
            return
        qs = urlencode(list(ws.query_params.multi_items()))
        url = "ws" + base[len("http"):] + url_path + (f"?{qs}" if qs else "")
        try:
            upstream = await connect_websocket(url, {}, offered)
        except errors.ApiError as exc:
            await ws.send_denial_response(status_response(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any dial failure is a 503 to the client
            await ws.send_denial_response(status_response(
                errors.ServiceUnavailable(f"error dialing kubelet: {exc}")))
            return
        await ws.accept(subprotocol=upstream.subprotocol)
        await relay(StarletteTransport(ws), WebSocketsTransport(upstream))


def _json_or_none(body: bytes) -> Any:
    import orjson
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
