"""A test-only API server that answers just what kubectl 1.32 and the official
Python client need to exec into and port-forward to one pod.

Discovery is the legacy kind (``/api``, ``/apis``, ``/api/v1``), the pod is
always Running, exec runs the requested command on this machine through
``LocalProcess`` and port-forward dials 127.0.0.1:<port>. Every request is
recorded so tests can prove kubectl never fell back to a raw SPDY upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from machinery.errors import ApiError
from machinery.streams import (
    ExecOptions, KubeWebSocketProtocol, LocalProcess, StarletteTransport, WebSocketsTransport,
    connect_websocket, negotiate_exec_protocol, negotiate_portforward_protocol, parse_ports, relay,
    report_exec_error, serve_exec, serve_portforward, websocket_url,
)

POD = "web"
NAMESPACE = "default"
_POD_PATH = "/api/v1/namespaces/{namespace}/pods/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _resource(name: str, kind: str, verbs: list[str], short: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "singularName": "", "namespaced": True, "kind": kind,
                             "verbs": verbs}
    if short:
        entry["shortNames"] = short
    return entry


def _pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "uid": "0d6a6b9e-0000-4000-8000-000000000001",
                     "resourceVersion": "1", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}], "nodeName": "node-1"},
        "status": {"phase": "Running", "podIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0,
                                          "image": "busybox", "imageID": "", "started": True,
                                          "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]},
    }


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message, "reason": "NotFound", "code": 404}, status_code=404)


@dataclass
class Recorded:
    kind: str  # "http" or "websocket"
    method: str
    path: str
    query: str
    subprotocols: list[str] = field(default_factory=list)


async def relay_to(upstream: str, ws: WebSocket) -> None:
    """The API server's part: dial the kubelet with the client's offer, then copy frames."""
    url = websocket_url(upstream + ws.url.path + ("?" + ws.url.query if ws.url.query else ""))
    try:
        conn = await connect_websocket(url, {}, list(ws.scope.get("subprotocols", [])))
    except ApiError as exc:
        await ws.send_denial_response(JSONResponse(exc.to_status(), status_code=exc.code))
        return
    await ws.accept(subprotocol=conn.subprotocol)
    await relay(StarletteTransport(ws), WebSocketsTransport(conn))


def build_app(requests: list[Recorded], upstream: str | None = None) -> Any:
    async def version(_: Request) -> Response:
        return JSONResponse({"major": "1", "minor": "32", "gitVersion": "v1.32.4",
                             "gitCommit": "0" * 40, "gitTreeState": "clean",
                             "buildDate": "2025-04-22T00:00:00Z", "goVersion": "go1.23.6",
                             "compiler": "gc", "platform": "linux/amd64"})

    async def api(request: Request) -> Response:
        host = request.url.netloc
        return JSONResponse({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                             [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})

    async def apis(_: Request) -> Response:
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def core_v1(_: Request) -> Response:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        return JSONResponse({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
                             "resources": [_resource("pods", "Pod", verbs, ["po"]),
                                           _resource("pods/exec", "PodExecOptions", ["create", "get"]),
                                           _resource("pods/portforward", "PodPortForwardOptions",
                                                     ["create", "get"])]})

    async def get_pod(request: Request) -> Response:
        name = request.path_params["name"]
        if name != POD:
            return _not_found(f'pods "{name}" not found')
        return JSONResponse(_pod(name, request.path_params["namespace"]))

    async def refuse_upgrade(_: Request) -> Response:
        # kubectl's raw SPDY fallback; ASGI cannot serve it, and it must not be needed.
        return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "SPDY upgrade not supported", "reason": "BadRequest",
                             "code": 400}, status_code=400)

    async def exec_ws(ws: WebSocket) -> None:
        if upstream is not None:
            await relay_to(upstream, ws)
            return
        if ws.path_params["name"] != POD:
            await ws.send_denial_response(_not_found(f'pods "{ws.path_params["name"]}" not found'))
            return
        options = ExecOptions.from_query(ws.query_params.multi_items())
        protocol = negotiate_exec_protocol(list(ws.scope.get("subprotocols", [])))
        if protocol is None or not options.command:
            await ws.close(1002)
            return
        await ws.accept(subprotocol=protocol or None)
        transport = StarletteTransport(ws)
        try:
            process = await LocalProcess.start(options.command, tty=options.tty)
        except OSError as exc:
            await report_exec_error(transport, protocol, f"failed to start {options.command[0]}: {exc}")
            return
        try:
            await serve_exec(transport, protocol, process, stdin=options.stdin, stdout=options.stdout,
                             stderr=options.stderr, tty=options.tty)
        finally:
            await process.terminate()

    async def portforward_ws(ws: WebSocket) -> None:
        if upstream is not None:
            await relay_to(upstream, ws)
            return
        if ws.path_params["name"] != POD:
            await ws.send_denial_response(_not_found(f'pods "{ws.path_params["name"]}" not found'))
            return
        protocol = negotiate_portforward_protocol(list(ws.scope.get("subprotocols", [])))
        try:
            ports = parse_ports(ws.query_params.getlist("ports"))
        except ValueError:
            ports = []
        if protocol is None or (protocol != "SPDY/3.1+portforward.k8s.io" and not ports):
            await ws.close(1002)
            return
        await ws.accept(subprotocol=protocol or None)

        async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection("127.0.0.1", port)

        await serve_portforward(StarletteTransport(ws), protocol, connect, ports=ports)

    app = Starlette(routes=[
        Route("/version", version), Route("/api", api), Route("/apis", apis), Route("/api/v1", core_v1),
        Route(_POD_PATH, get_pod),
        Route(_POD_PATH + "/exec", refuse_upgrade, methods=["GET", "POST"]),
        Route(_POD_PATH + "/portforward", refuse_upgrade, methods=["GET", "POST"]),
        WebSocketRoute(_POD_PATH + "/exec", exec_ws),
        WebSocketRoute(_POD_PATH + "/portforward", portforward_ws),
    ])

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            requests.append(Recorded(scope["type"], scope.get("method", "GET"), scope["path"],
                                     scope["query_string"].decode(), list(scope.get("subprotocols", []))))
        await app(scope, receive, send)

    return recording


class FakeApiServer:
    """The app under uvicorn on a free loopback port, in a background thread.

    With ``upstream`` it serves no streams itself and relays them to that
    server, as the API server relays to a kubelet.
    """

    def __init__(self, upstream: str | None = None) -> None:
        self.requests: list[Recorded] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(build_app(self.requests, upstream), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off", ws=KubeWebSocketProtocol)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-apiserver", daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake API server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: fake\n  user: {}\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n"
            "current-context: fake\n")
        return path


class _Backend(BaseHTTPRequestHandler):
    """Answers every GET with its path and a per-server counter; /big sends 1 MiB;
    a POST is answered with the SHA-256 of its body."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        digest = hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(digest)))
        self.end_headers()
        self.wfile.write(digest)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server: Any = self.server
        with server.lock:
            server.hits += 1
            hit = server.hits
        body = (b"x" * (1 << 20)) if self.path == "/big" else f"backend {self.path} #{hit}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_backend() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP/1.0 server on 127.0.0.1 (one request per connection)."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.hits = 0
    server.lock = threading.Lock()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="http-backend", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
