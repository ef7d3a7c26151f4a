"""Forwarding the names the cluster does not own to upstream resolvers.

Pods with ``dnsPolicy: ClusterFirst`` send every query to the cluster DNS,
so names outside the cluster domain (and reverse names it holds nothing
for) are passed on unchanged, as CoreDNS's ``forward`` plugin does: the
upstreams are the ``nameserver`` lines of a resolv.conf (by default the
host's, re-read when it changes) or addresses given outright.  Each query
goes out on a socket of its own (a fresh source port, the reply's ID and
question checked), over UDP for a UDP client and over TCP for a TCP client
or when the upstream truncated.  Upstreams are tried in order, each within
``timeout``; when none answers, the caller replies SERVFAIL.

The server's own addresses are never upstreams: a resolv.conf naming the
cluster DNS itself (as a node's may) would otherwise bounce a query between
the server and itself until it timed out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import Counter

__all__ = ["Upstream", "parse_upstream", "parse_resolv_conf", "Forwarder"]

log = logging.getLogger(__name__)
FORWARDS = Counter("k8py_dns_forward_requests_total",
                   "Queries forwarded upstream, by outcome", ["result"])
_RELOAD_EVERY = 5.0
_HEADER = 12


@dataclass(frozen=True, order=True)
class Upstream:
    host: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_upstream(text: str) -> Upstream:
    """``ADDR``, ``ADDR:PORT`` or ``[V6ADDR]:PORT``; ``ValueError`` otherwise."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    else:
        host, port = text, 53
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"invalid port in {text!r}")
    return Upstream(host, port)


def parse_resolv_conf(text: str) -> list[Upstream]:
    upstreams = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                upstreams.append(Upstream(str(ipaddress.ip_address(fields[1].split("%")[0]))))
            except ValueError:
                continue
    return upstreams


def _is_self(upstream: Upstream, own: set[Upstream]) -> bool:
    if upstream in own:
        return True
    # A wildcard listener answers on every local address, loopback included.
    wildcard = any(o.port == upstream.port and ipaddress.ip_address(o.host).is_unspecified
                   for o in own)
    return wildcard and ipaddress.ip_address(upstream.host).is_loopback


class _UdpExchange(asyncio.DatagramProtocol):
    def __init__(self, query: bytes) -> None:
        self.query = query
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.sendto(self.query)  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done() and _matches(self.query, data):
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


def _matches(query: bytes, reply: bytes) -> bool:
    """Same ID and the same question section: not a stray or spoofed datagram."""
    if len(reply) < _HEADER or reply[:2] != query[:2] or not reply[2] & 0x80:
        return False
    end = _question_end(query)
    return end is not None and reply[_HEADER:end].lower() == query[_HEADER:end].lower()


def _question_end(message: bytes) -> int | None:
    if struct.unpack("!H", message[4:6])[0] != 1:
        return None
    index = _HEADER
    while index < len(message):
        length = message[index]
        if length == 0:
            return index + 5  # the root label, then type and class
        if length & 0xC0:
            return None
        index += length + 1
    return None


def _truncated(reply: bytes) -> bool:
    return len(reply) >= 3 and bool(reply[2] & 0x02)


class Forwarder:
    """Sends a raw query to the first upstream that answers; ``None`` if none does."""

    def __init__(self, upstreams: Iterable[Upstream] = (), *, resolv_conf: str | None = None,
                 own: Iterable[Upstream] = (), timeout: float = 2.0) -> None:
        self.timeout = timeout
        self.own = set(own)
        self.resolv_conf = resolv_conf
        self._static = list(upstreams)
        self._loaded: list[Upstream] = []
        self._stamp: tuple[float, int] | None = None
        self._checked = 0.0

    def upstreams(self) -> list[Upstream]:
        """The current upstreams, the server's own addresses left out."""
        if self.resolv_conf is not None:
            self._reload()
        chosen = self._static or self._loaded
        return [u for u in chosen if not _is_self(u, self.own)]

    def _reload(self) -> None:
        now = time.monotonic()
        if self._stamp is not None and now - self._checked < _RELOAD_EVERY:
            return
        self._checked = now
        assert self.resolv_conf is not None
        try:
            info = os.stat(self.resolv_conf)
            stamp = (info.st_mtime, info.st_size)
            if stamp == self._stamp:
                return
            with open(self.resolv_conf) as f:
                self._loaded = parse_resolv_conf(f.read())
        except OSError as exc:
            if self._stamp != (0.0, -1):
                log.warning("cannot read %s: %s", self.resolv_conf, exc)
            self._loaded, self._stamp = [], (0.0, -1)
            return
        self._stamp = stamp
        log.info("upstream resolvers from %s: %s", self.resolv_conf,
                 ", ".join(map(str, self._loaded)) or "none")

    async def forward(self, query: bytes, *, tcp: bool) -> bytes | None:
        upstreams = self.upstreams()
        if not upstreams:
            FORWARDS.labels("no-upstream").inc()
            return None
        for upstream in upstreams:
            try:
                if tcp:
                    reply = await self._tcp(upstream, query)
                else:
                    reply = await self._udp(upstream, query)
                    if _truncated(reply):
                        reply = await self._tcp(upstream, query)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                FORWARDS.labels("error").inc()
                log.debug("upstream %s failed: %r", upstream, exc)
                continue
            FORWARDS.labels("answered").inc()
            return reply
        return None

    async def _udp(self, upstream: Upstream, query: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, exchange = await loop.create_datagram_endpoint(
            lambda: _UdpExchange(query), remote_addr=(upstream.host, upstream.port))
        try:
            return await asyncio.wait_for(exchange.reply, self.timeout)
        finally:
            transport.close()

    async def _tcp(self, upstream: Upstream, query: bytes) -> bytes:
        async def exchange() -> bytes:
            reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
            try:
                writer.write(struct.pack("!H", len(query)) + query)
                await writer.drain()
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await reader.readexactly(length)
            finally:
                writer.close()
            if not _matches(query, reply):
                raise ValueError("the upstream's reply does not match the query")
            return reply

        return await asyncio.wait_for(exchange(), self.timeout)
