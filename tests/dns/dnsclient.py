"""A minimal asyncio DNS client and fake upstream servers for the DNS tests (loopback only)."""

from __future__ import annotations

import asyncio
import struct

from dnslib import QTYPE, RR, A, DNSRecord

__all__ = ["udp_query", "tcp_query", "udp_raw", "FakeUpstream"]


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.sendto(self.payload)  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def udp_raw(port: int, payload: bytes, timeout: float = 3.0,
                  host: str = "127.0.0.1") -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Reply(payload), remote_addr=(host, port))
    try:
        return await asyncio.wait_for(protocol.reply, timeout)
    finally:
        transport.close()


async def udp_query(port: int, name: str, qtype: str = "A", *, edns: int | None = None,
                    timeout: float = 3.0) -> DNSRecord:
    question = DNSRecord.question(name, qtype)
    if edns is not None:
        from dnslib import EDNS0
        question.add_ar(EDNS0(udp_len=edns))
    return DNSRecord.parse(await udp_raw(port, bytes(question.pack()), timeout))


async def tcp_query(port: int, name: str, qtype: str = "A", timeout: float = 3.0) -> DNSRecord:
    payload = bytes(DNSRecord.question(name, qtype).pack())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(struct.pack("!H", len(payload)) + payload)
        await writer.drain()
        (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), timeout))
        return DNSRecord.parse(await reader.readexactly(length))
    finally:
        writer.close()


class FakeUpstream(asyncio.DatagramProtocol):
    """An upstream resolver on 127.0.0.1 answering every A query with 192.0.2.1.

    ``silent`` drops every query (a dead upstream); ``truncate_udp`` answers
    over UDP with TC set so the forwarder must retry over TCP.  Every name
    asked is recorded, so tests can prove what was (and was not) forwarded.
    """

    def __init__(self, *, silent: bool = False, truncate_udp: bool = False,
                 address: str = "192.0.2.1") -> None:
        self.silent = silent
        self.truncate_udp = truncate_udp
        self.address = address
        self.asked: list[tuple[str, str, str]] = []  # (transport, name, type)
        self.transport: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> FakeUpstream:
        """Bind UDP and TCP on one free port (retried: the UDP port's TCP twin may be taken)."""
        loop = asyncio.get_running_loop()
        for _ in range(10):
            self.transport, _ = await loop.create_datagram_endpoint(
                lambda: self, local_addr=("127.0.0.1", 0))
            self.port = self.transport.get_extra_info("sockname")[1]
            try:
                self.tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", self.port)
                return self
            except OSError:
                self.transport.close()
        raise OSError("no free port pair for the fake upstream")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.tcp is not None:
            self.tcp.close()

    def _answer(self, data: bytes, transport: str) -> bytes | None:
        request = DNSRecord.parse(data)
        self.asked.append((transport, str(request.q.qname).rstrip("."), QTYPE[request.q.qtype]))
        if self.silent:
            return None
        reply = request.reply()
        if transport == "udp" and self.truncate_udp:
            reply.header.tc = 1
            return bytes(reply.pack())
        if request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=60, rdata=A(self.address)))
        return bytes(reply.pack())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self._answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self._answer(await reader.readexactly(length), "tcp")
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()
