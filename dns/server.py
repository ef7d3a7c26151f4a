"""The DNS server: UDP and TCP listeners answering from the cluster zone, forwarding the rest.

``Resolver`` turns one wire-format query into one wire-format reply with
dnslib: a question under the cluster domain (or a reverse name the zone
holds) is answered authoritatively from ``records.Zone``; any other is
handed to the ``Forwarder`` as it came, and an upstream failure becomes
SERVFAIL.  Malformed messages get FORMERR (or nothing, when not even a
header could be read), opcodes other than QUERY get NOTIMP, classes other
than IN get REFUSED -- the same a resolver would meet on any real server.

UDP replies respect the client's EDNS buffer size (512 bytes without EDNS):
a larger answer is sent with the TC bit and the question only, and the
client retries over TCP, where messages carry a two-byte length prefix and
one connection may carry many queries.  Each query runs as its own task, so
a slow upstream never holds up cluster answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
import time
from collections.abc import Callable

from dnslib import (  # type: ignore[import-untyped]
    CLASS, CNAME, DNSError, DNSHeader, DNSQuestion, DNSRecord, EDNS0, NS, OPCODE, PTR, QTYPE,
    RCODE, RR, SOA, SRV, TXT, A,
)
from prometheus_client import Counter, Histogram

from dns.forward import Forwarder
from dns.records import Answer, Record, Soa, Srv, Zone

__all__ = ["Resolver", "DnsServer"]

log = logging.getLogger(__name__)
QUERIES = Counter("k8py_dns_requests_total", "DNS queries received", ["proto", "type"])
RESPONSES = Counter("k8py_dns_responses_total", "DNS replies sent", ["rcode"])
DURATION = Histogram("k8py_dns_request_duration_seconds", "Time to answer one query",
                     ["source"], buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5))
_UDP_DEFAULT = 512
_UDP_MAX = 1232  # the EDNS size the DNS flag day settled on: no IP fragmentation
_TCP_IDLE = 10.0
_MAX_INFLIGHT = 1000
_CLASS_ANY = 255  # dnslib names it "*"
_COMMON_TYPES = frozenset({"A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "SOA", "NS", "ANY"})


def _rdata(record: Record) -> object:
    data = record.data
    if isinstance(data, Srv):
        return SRV(data.priority, data.weight, data.port, data.target + ".")
    if isinstance(data, Soa):
        return SOA(data.mname + ".", data.rname + ".",
                   (data.serial, data.refresh, data.retry, data.expire, data.minimum))
    kinds: dict[str, Callable[[str], object]] = {
        "A": A, "CNAME": lambda t: CNAME(t + "."), "PTR": lambda t: PTR(t + "."),
        "NS": lambda t: NS(t + "."), "TXT": TXT}
    return kinds[record.rtype](data)


def _rr(record: Record, owner: str | None = None) -> RR:
    return RR(owner or record.name + ".", getattr(QTYPE, record.rtype), ttl=record.ttl,
              rdata=_rdata(record))


def _udp_limit(request: DNSRecord) -> int:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(_UDP_DEFAULT, min(int(rr.rclass), 65535))
    return _UDP_DEFAULT


def _error(request_id: int, rcode: int, question: DNSQuestion | None = None) -> bytes:
    reply = DNSRecord(DNSHeader(id=request_id, qr=1, ra=1, rcode=rcode))
    if question is not None:
        reply.add_question(question)
    RESPONSES.labels(RCODE[rcode]).inc()
    return bytes(reply.pack())


class Resolver:
    """Answers one query: the cluster zone first, upstream for the rest."""

    def __init__(self, zone: Callable[[], Zone], forwarder: Forwarder | None = None) -> None:
        self.zone = zone
        self.forwarder = forwarder

    async def resolve(self, data: bytes, *, tcp: bool) -> bytes | None:
        """The reply to send, or ``None`` to stay silent (not a query at all)."""
        started = time.perf_counter()
        try:
            request = DNSRecord.parse(data)
        except (DNSError, IndexError, ValueError, struct.error):
            if len(data) >= 2 and not (len(data) > 2 and data[2] & 0x80):
                return _error(struct.unpack("!H", data[:2])[0], RCODE.FORMERR)
            return None
        header = request.header
        if header.qr:
            return None  # a response sent to us: never answer those
        if header.opcode != OPCODE.QUERY:
            return _error(header.id, RCODE.NOTIMP)
        if len(request.questions) != 1:
            return _error(header.id, RCODE.FORMERR)
        question = request.q
        qtype = QTYPE.get(question.qtype)
        QUERIES.labels("tcp" if tcp else "udp",
                       qtype if qtype in _COMMON_TYPES else "other").inc()
        if question.qclass not in (CLASS.IN, _CLASS_ANY):
            return _error(header.id, RCODE.REFUSED, question)
        answer = self.zone().lookup(str(question.qname), str(qtype))
        if answer is None:
            return await self._forward(request, data, tcp, started)
        reply = self._reply(request, answer)
        DURATION.labels("zone").observe(time.perf_counter() - started)
        return self._fit(request, reply, tcp)

    async def _forward(self, request: DNSRecord, data: bytes, tcp: bool,
                       started: float) -> bytes:
        reply = await self.forwarder.forward(data, tcp=tcp) if self.forwarder else None
        DURATION.labels("forward").observe(time.perf_counter() - started)
        if reply is None:
            return _error(request.header.id, RCODE.SERVFAIL, request.q)
        RESPONSES.labels("forwarded").inc()
        return reply

    @staticmethod
    def _reply(request: DNSRecord, answer: Answer) -> DNSRecord:
        reply = request.reply(ra=1, aa=1)
        reply.header.rcode = getattr(RCODE, answer.rcode)
        asked = str(request.q.qname)
        wanted = asked.rstrip(".").lower()
        for record in answer.answer:
            # The owner is written as asked, so 0x20-randomising resolvers accept it.
            reply.add_answer(_rr(record, asked if record.name == wanted else None))
        for record in answer.authority:
            reply.add_auth(_rr(record))
        for record in answer.additional:
            reply.add_ar(_rr(record))
        if any(rr.rtype == QTYPE.OPT for rr in request.ar):
            reply.add_ar(EDNS0(udp_len=_UDP_MAX))
        RESPONSES.labels(answer.rcode).inc()
        return reply

    @staticmethod
    def _fit(request: DNSRecord, reply: DNSRecord, tcp: bool) -> bytes:
        packed = bytes(reply.pack())
        if tcp or len(packed) <= min(_udp_limit(request), _UDP_MAX):
            return packed
        short = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1),
                          q=request.q)
        return bytes(short.pack())


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(self.tasks) >= _MAX_INFLIGHT:
            return  # overloaded: the client retries, as it would after a lost packet
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.resolve(data, tcp=False)
        except Exception:
            log.exception("query from %s failed", addr[0])
            return
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsServer:
    """UDP and TCP listeners on one address and port, sharing one ``Resolver``."""

    def __init__(self, resolver: Resolver, host: str, port: int) -> None:
        self.resolver = resolver
        self.host = host
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._protocol: _UdpProtocol | None = None
        self._tcp: asyncio.base_events.Server | None = None

    @property
    def listening(self) -> bool:
        return self._udp is not None and self._tcp is not None

    async def start(self) -> None:
        """Bind both listeners; ``OSError`` when the address cannot be bound (yet).

        With port 0 the UDP socket picks the port and TCP takes the same one.
        """
        attempts = 10 if self.port == 0 else 1
        for attempt in range(attempts):
            try:
                await self._bind()
                return
            except OSError as exc:
                if attempt + 1 == attempts or exc.errno != errno.EADDRINUSE:
                    raise

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        protocol = _UdpProtocol(self.resolver)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: protocol, local_addr=(self.host, self.port), family=family)
        try:
            # With port 0, the TCP port the kernel gave UDP may be taken: the caller retries.
            port = transport.get_extra_info("sockname")[1]
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port,
                                                   family=family, reuse_address=True)
        except OSError:
            transport.close()
            raise
        self._udp, self._protocol, self.port = transport, protocol, int(port)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE)
                    data = await asyncio.wait_for(
                        reader.readexactly(struct.unpack("!H", head)[0]), _TCP_IDLE)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply = await self.resolver.resolve(data, tcp=True)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except ConnectionError:
            return
        except Exception:
            log.exception("TCP query failed")
        finally:
            writer.close()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._protocol is not None:
            for task in list(self._protocol.tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._protocol.tasks, return_exceptions=True)
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2)
            self._tcp = None
