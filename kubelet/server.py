"""The kubelet's streaming server: logs, exec, attach and port-forward on ``--port``.

The API server forwards ``pods/log`` here as plain HTTP and relays the
client's WebSocket for ``exec``, ``attach`` and ``portforward`` frame for
frame, with the client's subprotocol offer, so this server speaks the wire
protocols itself (``machinery.streams``) and answers with the kubelet's paths:

* ``GET /containerLogs/<ns>/<pod>/<container>?follow=&tailLines=&...``
* ``WS /exec/<ns>/<pod>/<container>?command=...&stdin=&stdout=&stderr=&tty=``
* ``WS /attach/<ns>/<pod>/<container>?stdin=&stdout=&stderr=&tty=``
* ``WS /portForward/<ns>/<pod>[?ports=...]``
* ``GET /stats/summary``: the Summary API (node, pods, containers), for ``top``
* ``GET /stats/<ns>/<pod>``: one pod's entry of that summary
* ``GET /healthz``

Pods are looked up in the kubelet's own pod informer (so a name maps to the
pod's current uid) and their containers in Docker by that uid. A request the
kubelet cannot serve is refused before any upgrade with a ``Status`` body,
which the API server passes on; a failure once a session runs goes to the
client on the error channel.

uvicorn runs with ``ws=KubeWebSocketProtocol`` (kubectl's port-forward
subprotocol is not an RFC token) and without its own signal handlers: the
kubelet process owns SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from kubelet.logs import LogOptions, LogStream, pick_instance
from kubelet.portforward import PodConnector
from kubelet.runtime import KIND_SANDBOX, ContainerInfo, DockerError, DockerRuntime
from kubelet.stats import StatsSampler
from kubelet.streams import DockerEndpoint, DockerStreamProcess, start_attach, start_exec
from machinery import errors
from machinery.streams import (
    SPDY_PORTFORWARD_PROTOCOL, ExecOptions, KubeWebSocketProtocol, StarletteTransport,
    negotiate_exec_protocol, negotiate_portforward_protocol, parse_ports, report_exec_error,
    serve_exec, serve_portforward,
)

__all__ = ["KubeletServer", "PodLookup"]

Obj = dict[str, Any]
PodLookup = Callable[[str, str], "Obj | None"]
log = logging.getLogger(__name__)


def _status_response(exc: errors.ApiError) -> JSONResponse:
    return JSONResponse(exc.to_status(), status_code=exc.code)


def _container_names(pod: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
            for c in spec.get(key) or []]


def _waiting_reason(pod: Obj, container: str) -> str:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for entry in status.get(key) or []:
            if entry.get("name") == container:
                return str(((entry.get("state") or {}).get("waiting") or {}).get("reason") or "")
    return ""


class KubeletServer:
    """The Starlette app and its uvicorn server; ``serve()`` runs until cancelled."""

    def __init__(self, runtime: DockerRuntime, pods: PodLookup, docker_host: str, *,
                 host: str, port: int) -> None:
        self.runtime = runtime
        self.pods = pods
        self.endpoint = DockerEndpoint.for_runtime(docker_host, runtime)
        self.host = host
        self.port = port
        self._http: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self.sampler = StatsSampler(runtime, lambda: self.http, self.endpoint)
        self.app = Starlette(routes=[
            Route("/healthz", self._healthz),
            Route("/containerLogs/{namespace}/{pod}/{container}", self._logs),
            Route("/stats/summary", self._summary),
            Route("/stats/{namespace}/{pod}", self._stats),
            WebSocketRoute("/exec/{namespace}/{pod}/{container}", self._exec),
            WebSocketRoute("/attach/{namespace}/{pod}/{container}", self._attach),
            WebSocketRoute("/portForward/{namespace}/{pod}", self._portforward),
        ])

    # -- running ----------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    def bind(self) -> None:
        """Take the listening socket now, so a busy port fails loudly at start-up.

        (uvicorn, left to bind, would ``sys.exit`` inside the event loop.)
        """
        if self._socket is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self._socket = socket.create_server((self.host, self.port), family=family)

    async def serve(self) -> None:
        self.bind()
        assert self._socket is not None
        # log_config=None: uvicorn's records go through the kubelet's own log format.
        config = uvicorn.Config(self.app, log_level="warning", log_config=None, lifespan="off",
                                ws=KubeWebSocketProtocol, timeout_graceful_shutdown=2,
                                access_log=False)
        server = _EmbeddedServer(config)
        self._server = server
        log.info("kubelet server listening on %s:%d", self.host, self.bound_port)
        task = asyncio.ensure_future(server.serve(sockets=[self._socket]))
        try:
            await asyncio.shield(task)
        finally:
            # Followed logs and shells stay open for hours: give them 2 s, then cut.
            server.should_exit = True
            await asyncio.gather(task, return_exceptions=True)
            self._socket.close()
            await self.sampler.close()
            if self._http is not None:
                await self._http.aclose()

    async def wait_started(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.started:
            if loop.time() > deadline:
                raise TimeoutError(f"kubelet server on {self.host}:{self.port} did not start")
            await asyncio.sleep(0.02)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = self.endpoint.http_client()
        return self._http

    # -- lookups ----------------------------------------------------------------------------

    def _pod(self, namespace: str, name: str) -> Obj:
        pod = self.pods(namespace, name)
        if pod is None:
            raise errors.NotFound(f'pods "{name}" not found', kind="pods", name=name)
        return pod

    async def _instances(self, namespace: str, name: str,
                         container: str) -> tuple[Obj, list[ContainerInfo]]:
        """The pod and its instances of ``container`` in Docker, newest first."""
        pod = self._pod(namespace, name)
        if container not in _container_names(pod):
            raise errors.NotFound(f'container "{container}" not found in pod "{name}"')
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        everything = await self.runtime.pod_containers(uid)
        return pod, [c for c in everything
                     if c.kind != KIND_SANDBOX and c.container_name == container]

    # -- plain HTTP -------------------------------------------------------------------------

    async def _healthz(self, _: Request) -> Response:
        return PlainTextResponse("ok")

    async def _logs(self, request: Request) -> Response:
        params = request.path_params
        try:
            options = LogOptions.from_query(request.query_params)
            pod, instances = await self._instances(params["namespace"], params["pod"],
                                                   params["container"])
            instance = pick_instance(instances, options, params["pod"], params["container"],
                                     _waiting_reason(pod, params["container"]))
            stream = await LogStream.open(self.http, self.endpoint, instance, options)
        except errors.ApiError as exc:
            return _status_response(exc)
        except DockerError as exc:
            return _status_response(errors.InternalError(str(exc)))
        return StreamingResponse(stream.chunks(), media_type="text/plain")

    async def _summary(self, _: Request) -> Response:
        try:
            return JSONResponse(await self.sampler.summary())
        except errors.ApiError as exc:
            return _status_response(exc)

    async def _stats(self, request: Request) -> Response:
        try:
            pod = self._pod(request.path_params["namespace"], request.path_params["pod"])
            meta = pod.get("metadata") or {}
            uid = str(meta.get("uid") or "")
            entry = await self.sampler.pod(uid) or {
                "podRef": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                           "uid": uid},
                "containers": [], "cpu": {"usageNanoCores": 0},
                "memory": {"workingSetBytes": 0}}
            return JSONResponse(entry)
        except errors.ApiError as exc:
            return _status_response(exc)

    # -- exec and attach --------------------------------------------------------------------

    async def _exec(self, ws: WebSocket) -> None:
        options = ExecOptions.from_query(ws.query_params.multi_items())
        problem = None
        if not options.command:
            problem = "you must specify at least 1 command"

        async def start(instance: ContainerInfo) -> DockerStreamProcess:
            return await start_exec(self.runtime, self.endpoint, instance.id, options.command,
                                    stdin=options.stdin, stdout=options.stdout,
                                    stderr=options.stderr, tty=options.tty)

        await self._session(ws, options, start, problem)

    async def _attach(self, ws: WebSocket) -> None:
        options = ExecOptions.from_query(ws.query_params.multi_items())

        async def start(instance: ContainerInfo) -> DockerStreamProcess:
            return await start_attach(self.runtime, self.endpoint, instance, stdin=options.stdin,
                                      stdout=options.stdout, stderr=options.stderr)

        await self._session(ws, options, start, None)

    async def _session(self, ws: WebSocket, options: ExecOptions,
                       start: Callable[[ContainerInfo], Awaitable[DockerStreamProcess]],
                       problem: str | None) -> None:
        """Validate, upgrade, start the process in the running instance, relay it."""
        params = ws.path_params
        protocol = negotiate_exec_protocol(list(ws.scope.get("subprotocols", [])))
        if problem is None and not (options.stdin or options.stdout or options.stderr):
            problem = "you must specify at least one of stdin, stdout, stderr"
        if problem is None and protocol is None:
            problem = "unable to negotiate a streaming subprotocol (offer v5.channel.k8s.io)"
        try:
            if problem is not None:
                raise errors.BadRequest(problem)
            _, instances = await self._instances(params["namespace"], params["pod"],
                                                 params["container"])
        except errors.ApiError as exc:
            await ws.send_denial_response(_status_response(exc))
            return
        assert protocol is not None
        await ws.accept(subprotocol=protocol or None)
        transport = StarletteTransport(ws)
        running = next((c for c in instances if c.running), None)
        if running is None:
            await report_exec_error(transport, protocol, f'container "{params["container"]}" in '
                                                         f'pod "{params["pod"]}" is not running')
            return
        try:
            process = await start(running)
        except (DockerError, OSError) as exc:
            await report_exec_error(transport, protocol,
                                    f"error executing command in container: {exc}")
            return
        try:
            # A TTY session has one output: kubectl never asks for stderr with it.
            await serve_exec(transport, protocol, process, stdin=options.stdin,
                             stdout=options.stdout or options.tty, stderr=options.stderr,
                             tty=options.tty)
        finally:
            await process.close()

    # -- port-forward -----------------------------------------------------------------------

    async def _portforward(self, ws: WebSocket) -> None:
        params = ws.path_params
        protocol = negotiate_portforward_protocol(list(ws.scope.get("subprotocols", [])))
        try:
            try:
                ports = parse_ports(ws.query_params.getlist("ports"))
            except ValueError as exc:
                raise errors.BadRequest(str(exc)) from None
            if protocol is None:
                raise errors.BadRequest("unable to negotiate a port-forward subprotocol")
            if protocol != SPDY_PORTFORWARD_PROTOCOL and not ports:
                raise errors.BadRequest('query parameter "port" is required')
            pod = self._pod(params["namespace"], params["pod"])
            sandbox = await self._sandbox(pod)
        except errors.ApiError as exc:
            await ws.send_denial_response(_status_response(exc))
            return
        await ws.accept(subprotocol=protocol or None)
        connector = PodConnector(sandbox.ip, sandbox.pid)
        try:
            await serve_portforward(StarletteTransport(ws), protocol, connector, ports=ports)
        finally:
            await connector.close()

    async def _sandbox(self, pod: Obj) -> ContainerInfo:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        for info in await self.runtime.pod_containers(uid):
            if info.kind == KIND_SANDBOX and info.running:
                return info
        name = (pod.get("metadata") or {}).get("name")
        raise errors.BadRequest(f'pod "{name}" has no running sandbox to forward ports into')


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

