"""The ingress HTTP/1.1 reverse proxy: one listener, each request routed by host and path.

For every request on a (keep-alive) client connection the proxy looks the
Host header and path up in the current ``RouteTable``, picks one of the
backend's ready endpoints at random (up to three if connecting fails) and
relays the request and then the response, streaming both bodies.  A GET,
HEAD or OPTIONS whose endpoint fails before answering (a pod going away
mid-rollout) is retried on the next one, as nginx's ``proxy_next_upstream``
does; a request with a body is not, since it may have had an effect.  It
answers itself only when it must: 404 when no rule and no default backend
match, 503 when the backend has no ready endpoint, 502 when no endpoint
accepts a connection or the reply is not HTTP, 504 when the reply does not
start in time.

Each request gets a fresh upstream connection with ``Connection: close``:
endpoints change under rollouts, and a pool would keep talking to pods that
are going away.  The backend sees the client's Host header unchanged plus
``X-Forwarded-For`` (appended to), ``X-Forwarded-Host``,
``X-Forwarded-Proto``, ``X-Forwarded-Port`` and ``X-Real-IP``, as ingress-nginx
sends them.  Interim 1xx responses (``Expect: 100-continue``) are relayed
while the request body still flows, and a ``101 Switching Protocols`` turns
the connection into a two-way byte pipe, so WebSockets work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from ingress.http11 import (
    MAX_HEAD, Framing, Head, HttpError, copy_body, end_to_end, read_head, request_framing,
    response_framing, simple_response,
)
from ingress.routes import Endpoint, Route, RouteTable

__all__ = ["IngressProxy", "ProxyTimeouts"]

log = logging.getLogger(__name__)
REQUESTS = Counter("k8py_ingress_requests_total", "Requests answered, by status class",
                   ["status"])
UPSTREAM_SECONDS = Histogram("k8py_ingress_upstream_response_seconds",
                             "Time from connecting to a backend to its response head")
_CONNECT_ATTEMPTS = 3
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_TUNNEL_READ = 64 * 1024  # bytes per read when piping an upgraded connection


@dataclass(frozen=True)
class ProxyTimeouts:
    connect: float = 5.0   # to open a backend connection
    response: float = 60.0  # for the backend's response head (nginx's proxy_read_timeout)
    idle: float = 60.0     # for the next request on a kept-alive client connection


class _Done(Exception):
    """The client connection must close after what has been written."""


class _BackendGone(HttpError):
    """The backend failed before its response began; ``retryable`` if nothing was relayed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(502, message)
        self.retryable = retryable


class IngressProxy:
    def __init__(self, table: Callable[[], RouteTable], *,
                 timeouts: ProxyTimeouts = ProxyTimeouts(),
                 choose: Callable[[list[Endpoint]], list[Endpoint]] | None = None) -> None:
        self.table = table
        self.timeouts = timeouts
        self.choose = choose or (lambda eps: random.sample(eps, len(eps)))
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD,
                                                  reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(read_head(reader), self.timeouts.idle)
                except TimeoutError:
                    return
                if head is None:
                    return
                if not await self._exchange(head, str(peer[0]), reader, writer):
                    return
        except HttpError as exc:
            if exc.status >= 500:
                log.info("answering %d: %s", exc.status, exc)
            self._reply(writer, exc.status, str(exc), close=True)
        except _Done:
            pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await writer.drain()
            writer.close()

    def _reply(self, writer: asyncio.StreamWriter, status: int, text: str, *,
               close: bool) -> None:
        REQUESTS.labels(f"{status // 100}xx").inc()
        if not writer.is_closing():
            writer.write(simple_response(status, text, close=close))

    async def _exchange(self, head: Head, client_ip: str, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        """Serve one request; True when the client connection may carry another."""
        method, target, version = head.start
        framing = request_framing(head)
        host, path = _host_and_path(head, target)
        if not host:
            raise HttpError(400, "missing Host header")
        keep_alive = version == "HTTP/1.1" and "close" not in head.tokens("connection")
        route = self.table().match(host, path)
        if route is None:
            return self._refuse(writer, 404, "default backend - 404", framing, keep_alive)
        endpoints = list(route.backend.endpoints)
        if not endpoints:
            log.info("%s %s%s: no endpoint for %s (%s)", method, host, path, route.backend,
                     route.backend.problem)
            return self._refuse(writer, 503, "503 Service Temporarily Unavailable", framing,
                                keep_alive)
        candidates = self.choose(endpoints)[:_CONNECT_ATTEMPTS]
        # Like nginx's proxy_next_upstream: a request that cannot have had an effect
        # moves on to another endpoint when one fails before answering (a pod going away).
        retry = framing.empty and method in _IDEMPOTENT
        while True:
            upstream = await self._connect(route, candidates)
            if upstream is None:
                return self._refuse(writer, 502, "502 Bad Gateway", framing, keep_alive)
            up_reader, up_writer = upstream
            try:
                return await self._relay(head, route, host, client_ip, framing, keep_alive,
                                         reader, writer, up_reader, up_writer)
            except _BackendGone as exc:
                if not (retry and candidates):
                    raise
                log.info("%s: %s; trying another endpoint", route.ingress, exc)
            finally:
                up_writer.close()

    def _refuse(self, writer: asyncio.StreamWriter, status: int, text: str, framing: Framing,
                keep_alive: bool) -> bool:
        # An unread request body would be taken for the next request: close instead.
        keep = keep_alive and framing.empty
        self._reply(writer, status, text, close=not keep)
        return keep

    async def _connect(self, route: Route, candidates: list[Endpoint],
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Connect to the first candidate that accepts, consuming the list as it goes."""
        while candidates:
            endpoint = candidates.pop(0)
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(endpoint.ip, endpoint.port, limit=MAX_HEAD),
                    self.timeouts.connect)
            except (OSError, TimeoutError) as exc:
                log.info("%s: endpoint %s of %s refused: %s", route.ingress, endpoint,
                         route.backend, exc)
        return None

    def _upstream_head(self, head: Head, host: str, client_ip: str, framing: Framing,
                       path: str) -> Head:
        headers = [(k, v) for k, v in end_to_end(head)
                   if k.lower() not in ("x-forwarded-host", "x-forwarded-proto",
                                        "x-forwarded-port", "x-real-ip", "x-forwarded-for")]
        if framing.kind == "chunked":
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Transfer-Encoding", "chunked"))
        forwarded_for = head.get("x-forwarded-for")
        headers += [
            ("X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip),
            ("X-Forwarded-Host", host), ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", str(self.port)), ("X-Real-IP", client_ip)]
        upgrade = head.get("upgrade")
        if upgrade and "upgrade" in head.tokens("connection"):
            headers += [("Upgrade", upgrade), ("Connection", "upgrade")]
        else:
            headers.append(("Connection", "close"))
        return Head((head.start[0], path, "HTTP/1.1"), headers)

    async def _relay(self, head: Head, route: Route, host: str, client_ip: str,
                     framing: Framing, keep_alive: bool,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> bool:
        method, target = head.start[0], head.start[1]
        up_writer.write(self._upstream_head(head, host, client_ip, framing,
                                            _origin_form(target)).render())
        sending = asyncio.create_task(copy_body(reader, up_writer, framing))
        started = time.monotonic()
        interim = False
        try:
            while True:
                try:
                    response = await asyncio.wait_for(read_head(up_reader, response=True),
                                                      self.timeouts.response)
                except TimeoutError:
                    self._reply(writer, 504, "504 Gateway Time-out", close=True)
                    raise _Done from None
                except (OSError, HttpError) as exc:  # the backend's fault, not the client's
                    raise _BackendGone(f"{route.backend} failed: {exc!r}",
                                       retryable=not interim) from exc
                if response is None:
                    raise _BackendGone(f"{route.backend} closed without a response",
                                       retryable=not interim)
                status = int(response.start[1])
                if status == 101 or not 100 <= status < 200:
                    break
                writer.write(response.render())  # 100 Continue and friends, as they come
                interim = True
            UPSTREAM_SECONDS.observe(time.monotonic() - started)
            if status == 101:
                writer.write(response.render())
                REQUESTS.labels("1xx").inc()
                sending.cancel()
                await _pipe_both(reader, writer, up_reader, up_writer)
                raise _Done
            body = response_framing(response, method)
            headers = end_to_end(response)
            if body.kind == "chunked":
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Transfer-Encoding", "chunked"))
            keep = keep_alive and body.kind != "close"
            if not keep:
                headers.append(("Connection", "close"))
            writer.write(Head(("HTTP/1.1", response.start[1], response.start[2]),
                              headers).render())
            REQUESTS.labels(f"{status // 100}xx").inc()
            try:
                await copy_body(up_reader, writer, body)
                await writer.drain()
                if not sending.done():
                    return False  # answered before the request body ended: its rest is unread
                await sending
            except (HttpError, asyncio.IncompleteReadError) as exc:
                # The response has begun: all that is left is to cut the connection.
                log.info("%s: %s broke off: %r", route.ingress, route.backend, exc)
                raise _Done from exc
            return keep
        except _BackendGone as exc:
            if not exc.retryable:
                raise HttpError(502, str(exc)) from exc
            raise
        finally:
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(BaseException):
                    await sending


async def _pipe_both(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(_TUNNEL_READ):
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()

    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def _host_and_path(head: Head, target: str) -> tuple[str, str]:
    """The request's host and path; an absolute-form target's authority wins (RFC 9112 3.2.2)."""
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        authority, slash, path = rest.partition("/")
        return authority, slash + path or "/"
    return head.get("host") or "", target


def _origin_form(target: str) -> str:
    if target.startswith(("http://", "https://")):
        path = target.split("://", 1)[1].partition("/")
        return (path[1] + path[2]) or "/"
    return target
