"""Assembles the API server: storage, registry, watch caches and routes.

The FastAPI application carries plain Starlette routes for the resource
paths: kube-apiserver's URL space is generic (``/apis/<group>/<version>/...``),
and FastAPI's per-route validation would only add cost to every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from machinery import errors
from machinery.component import tune_gc
from machinery.resources import RESOURCES, Resource

from . import discovery, openapi
from .allocator import ServiceAllocator
from .bootstrap import SYSTEM_NAMESPACES, ensure_system_objects
from .handlers import handle, parse_target
from .metrics import MetricsApi
from .proxy import KubeletProxy
from .registry import Registry
from .storage import Storage
from .subresources import Subresources
from .watchcache import WatchCache
from .wire import json_response, status_response

__all__ = ["ApiServer", "SYSTEM_NAMESPACES", "VERSION_INFO"]

log = logging.getLogger("apiserver")

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-k8py",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-22T00:00:00Z",
    "goVersion": f"python{platform.python_version()}",
    "compiler": "cpython",
    "platform": f"linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
}

REQUESTS = Counter("apiserver_request_total", "API requests by verb, resource and code",
                   ["verb", "resource", "code"])
LATENCY = Histogram("apiserver_request_duration_seconds", "API request latency by verb",
                    ["verb"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


class ApiServer:
    def __init__(self, etcd_servers: list[str], *, service_cidr: str = "10.96.0.0/12",
                 node_port_range: str = "30000-32767", prefix: str = "/registry",
                 bookmark_interval: float = 5.0, compaction_interval: float = 300.0,
                 advertise_address: str = "127.0.0.1", advertise_port: int = 6443) -> None:
        self.advertise_address = advertise_address
        self.advertise_port = advertise_port
        self.storage = Storage(etcd_servers)
        self.registry = Registry(self.storage, ServiceAllocator(service_cidr, node_port_range), prefix)
        self.caches: dict[Resource, WatchCache] = {}
        self.subresources = Subresources(self)
        self.proxy = KubeletProxy(self)
        self.metrics = MetricsApi(self)
        self.bookmark_interval = bookmark_interval
        self.compaction_interval = compaction_interval
        self._tasks: list[asyncio.Task[Any]] = []
        self.ready = False
        self.app = self._build_app()

    def cache(self, resource: Resource) -> WatchCache:
        cache = self.caches.get(resource)
        if cache is None:
            raise errors.ServiceUnavailable("the server is starting")
        return cache

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        for attempt in range(60):
            try:
                await self.storage.connect()
                break
            except errors.ServiceUnavailable as exc:
                if attempt == 59:
                    raise
                log.warning("waiting for etcd: %s", exc.message)
                await asyncio.sleep(1)
        for r in RESOURCES:
            cache = WatchCache(self.storage, r, self.registry.collection_key(r))
            cache.start()
            self.caches[r] = cache
        await ensure_system_objects(self.registry, self.advertise_address, self.advertise_port)
        for cache in self.caches.values():
            await cache.wait_ready(timeout=30)
        self._tasks.append(asyncio.create_task(self._compactor(), name="compactor"))
        tune_gc()
        self.ready = True
        log.info("API server ready")

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for cache in self.caches.values():
            await cache.stop()
        await self.proxy.close()
        await self.storage.close()

    async def _compactor(self) -> None:
        """Compact etcd history older than one interval, as kube-apiserver does every 5 minutes."""
        previous = 0
        while True:
            await asyncio.sleep(self.compaction_interval)
            try:
                current = await self.storage.current_revision()
                if previous:
                    await self.storage.compact(previous)
                previous = current
            except errors.ApiError as exc:
                log.warning("compaction failed: %s", exc.message)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # -- routes ----------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=self._lifespan)
        app.router.add_route("/version", self._version, ["GET"])
        app.router.add_route("/version/", self._version, ["GET"])
        for path in ("/healthz", "/livez"):
            app.router.add_route(path, self._live, ["GET"])
        app.router.add_route("/readyz", self._ready, ["GET"])
        app.router.add_route("/metrics", self._metrics, ["GET"])
        app.router.add_route("/api", self._api_root, ["GET"])
        app.router.add_route("/apis", self._apis_root, ["GET"])
        app.router.add_route("/openapi/v3", self._openapi_index, ["GET"])
        app.router.add_route("/openapi/v3/{path:path}", self._openapi_doc, ["GET"])
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app.router.add_route("/api/{version}", self._core_gv, methods)
        app.router.add_route("/api/{version}/{rest:path}", self._core, methods)
        app.router.add_route("/apis/{group}", self._group, methods)
        app.router.add_route("/apis/{group}/{version}", self._group_gv, methods)
        # Served here, not stored: ahead of the generic route, which knows only stored kinds.
        app.router.add_route("/apis/metrics.k8s.io/v1beta1/{rest:path}", self.metrics.handle, methods)
        app.router.add_route("/apis/{group}/{version}/{rest:path}", self._grouped, methods)
        self.proxy.add_websocket_routes(app)
        app.add_exception_handler(errors.ApiError, self._api_error)  # type: ignore[arg-type]
        app.add_exception_handler(HTTPException, self._http_error)  # type: ignore[arg-type]
        app.add_exception_handler(Exception, self._crash)
        return app

    async def _api_error(self, request: Request, exc: errors.ApiError) -> Response:
        return status_response(exc)

    async def _http_error(self, request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return status_response(errors.NotFound("the server could not find the requested resource"))
        if exc.status_code == 405:
            return status_response(errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource"))
        return status_response(errors.ApiError(str(exc.detail), code=exc.status_code, reason="BadRequest"))

    async def _crash(self, request: Request, exc: Exception) -> Response:
        log.exception("internal error serving %s %s", request.method, request.url.path)
        return status_response(errors.InternalError(f"an error on the server has prevented the request "
                                                    f"from succeeding: {type(exc).__name__}"))

    async def _version(self, request: Request) -> Response:
        return json_response(VERSION_INFO)

    async def _live(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _ready(self, request: Request) -> Response:
        if not self.ready:
            return PlainTextResponse("[-]storage not ready\nreadyz check failed", status_code=500)
        return PlainTextResponse("ok")

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @staticmethod
    def _aggregated(request: Request) -> bool:
        return "as=APIGroupDiscoveryList" in (request.headers.get("accept") or "")

    async def _api_root(self, request: Request) -> Response:
        if self._aggregated(request):
            return json_response(discovery.aggregated_discovery(core=True),
                                 content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_versions(server_address=request.url.netloc))

    async def _apis_root(self, request: Request) -> Response:
        if self._aggregated(request):
            return json_response(discovery.aggregated_discovery(core=False),
                                 content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_group_list())

    async def _openapi_index(self, request: Request) -> Response:
        return json_response(openapi.openapi_v3_index())

    async def _openapi_doc(self, request: Request) -> Response:
        doc = openapi.openapi_v3_document(request.path_params["path"])
        if doc is None:
            raise errors.NotFound("the server could not find the requested resource")
        return Response(orjson.dumps(doc), media_type="application/json",
                        headers={"Cache-Control": "public, immutable"})

    async def _core_gv(self, request: Request) -> Response:
        listing = discovery.api_resource_list("", request.path_params["version"])
        if listing is None or request.method != "GET":
            raise errors.NotFound("the server could not find the requested resource")
        return json_response(listing)

    async def _group(self, request: Request) -> Response:
        group = discovery.api_group(request.path_params["group"])
        if group is None or request.method != "GET":
            raise errors.NotFound("the server could not find the requested resource")
        return json_response(group)

    async def _group_gv(self, request: Request) -> Response:
        listing = discovery.api_resource_list(request.path_params["group"], request.path_params["version"])
        if listing is None or request.method != "GET":
            raise errors.NotFound("the server could not find the requested resource")
        return json_response(listing)

    async def _core(self, request: Request) -> Response:
        return await self._dispatch(request, "", request.path_params["version"])

    async def _grouped(self, request: Request) -> Response:
        return await self._dispatch(request, request.path_params["group"], request.path_params["version"])

    async def _dispatch(self, request: Request, group: str, version: str) -> Response:
        start = time.perf_counter()
        parts = request.path_params["rest"].split("/")
        verb = request.method
        code = 500
        resource = "-"
        try:
            target = parse_target(group, version, parts)
            resource = target.resource.plural
            response = await handle(self, request, target)
            code = response.status_code
            return response
        except errors.ApiError as exc:
            code = exc.code
            raise
        finally:
            REQUESTS.labels(verb, resource, str(code)).inc()
            LATENCY.labels(verb).observe(time.perf_counter() - start)
