"""The health and metrics side port every k8py component serves.

Kubernetes components answer ``/healthz`` (``/livez``), ``/readyz`` and
``/metrics`` on a small port of their own, so kubelets, compose health
checks and Prometheus can ask without reaching the main API.  Split from
``machinery.component``, which re-exports these names for the mains.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

__all__ = ["Health", "serve_health", "serving_health"]


class Health:
    """Named checks behind /livez (/healthz) and /readyz.

    As in the kube-apiserver, readiness runs every check and liveness only
    those not marked ``ready_only``: a component that lost its API watch is
    not ready, but restarting it would not help. A check that raises fails.
    """

    def __init__(self) -> None:
        self._checks: dict[str, tuple[Callable[[], bool], bool]] = {}

    def add_check(self, name: str, fn: Callable[[], bool], *, ready_only: bool = False) -> None:
        self._checks[name] = (fn, ready_only)

    def _run(self, include_ready_only: bool) -> list[tuple[str, bool]]:
        results = []
        for name, (fn, ready_only) in self._checks.items():
            if ready_only and not include_ready_only:
                continue
            try:
                ok = bool(fn())
            except Exception:
                ok = False
            results.append((name, ok))
        return results

    def live(self) -> tuple[bool, list[str]]:
        failing = [name for name, ok in self._run(False) if not ok]
        return not failing, failing

    def ready(self) -> tuple[bool, list[str]]:
        failing = [name for name, ok in self._run(True) if not ok]
        return not failing, failing

    def report(self, ready: bool) -> tuple[bool, str]:
        """The body Kubernetes serves with ``?verbose``: one ``[+]``/``[-]`` line per check."""
        results = self._run(ready)
        lines = [f"[+]{name} ok" if ok else f"[-]{name} failed" for name, ok in results]
        passed = all(ok for _, ok in results)
        what = "readyz" if ready else "livez"
        lines.append(f"{what} check {'passed' if passed else 'failed'}")
        return passed, "\n".join(lines) + "\n"


_MAX_HEADER_BYTES = 16 * 1024
# generate_latest() writes the classic text format; name it so every
# Prometheus version parses it (newer clients advertise 1.0.0 instead).
_METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


def _respond(health: Health, registry: CollectorRegistry, path: str, query: str) -> tuple[int, str, bytes]:
    if path == "/metrics":
        return 200, _METRICS_CONTENT_TYPE, generate_latest(registry)
    if path in ("/healthz", "/livez", "/readyz"):
        passed, body = health.report(ready=path == "/readyz")
        verbose = any(p.partition("=")[0] == "verbose" for p in query.split("&"))
        if passed and not verbose:
            body = "ok"
        return (200 if passed else 500), "text/plain; charset=utf-8", body.encode()
    return 404, "text/plain; charset=utf-8", b"404 page not found\n"


async def _read_head(reader: asyncio.StreamReader) -> list[str] | None:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
        return None
    return raw.decode("latin-1").split("\r\n")[:-2]


async def _handle(health: Health, registry: CollectorRegistry,
                  reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await _read_head(reader)
            if not head:
                return
            parts = head[0].split(" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(length)
            if len(parts) != 3:
                status, ctype, body = 400, "text/plain", b"bad request\n"
            elif parts[0] not in ("GET", "HEAD"):
                status, ctype, body = 405, "text/plain", b"method not allowed\n"
            else:
                path, _, query = parts[1].partition("?")
                status, ctype, body = _respond(health, registry, path, query)
            close = headers.get("connection", "").lower() == "close" or len(parts) != 3 \
                or parts[2] == "HTTP/1.0"
            lines = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Type: {ctype}",
                     f"Content-Length: {len(body)}", "X-Content-Type-Options: nosniff"]
            if close:
                lines.append("Connection: close")
            head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
            writer.write(head_bytes if parts[0] == "HEAD" else head_bytes + body)
            await writer.drain()
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def serve_health(health: Health, host: str, port: int, *,
                       registry: CollectorRegistry | None = None) -> asyncio.base_events.Server:
    """Start the health/metrics listener; read the bound port from ``server.sockets``.

    A few dozen lines of HTTP/1.1 on asyncio streams rather than a web
    framework: every component, including ones that need no HTTP server
    otherwise, can afford it, and it never competes with the main app for a
    port or an event loop policy.
    """
    reg = registry if registry is not None else REGISTRY
    server = await asyncio.start_server(
        lambda r, w: _handle(health, reg, r, w), host, port, limit=_MAX_HEADER_BYTES)
    return server


@contextlib.asynccontextmanager
async def serving_health(health: Health, host: str, port: int) -> AsyncIterator[int]:
    """The health/metrics listener for the length of a ``with`` block; yields the bound port.

    Every component's ``serve()`` opens it, logs the bound port (port 0
    picks one) and must close it however it leaves; holding the pairing here
    keeps that out of each main.  Enter it after the API client
    (``async with client, serving_health(...)``) so the listener closes first.
    """
    server = await serve_health(health, host, port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
