"""The DNS server on 127.0.0.1: wire answers over UDP and TCP, forwarding to fake upstreams.

Nothing here leaves the machine: upstreams are ``FakeUpstream`` servers on
loopback, and a test proves the host's own resolver is never asked.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dns.forward import Forwarder, Upstream, parse_resolv_conf, parse_upstream
from dns.records import Zone, build_zone
from dns.server import DnsServer, Resolver
from tests.dns.dnsclient import FakeUpstream, tcp_query, udp_query, udp_raw
from tests.dns.fixtures import endpoint, endpoint_slice, service

pytestmark = pytest.mark.timeout(30)


def cluster_zone() -> Zone:
    many = [endpoint(f"10.244.3.{i}") for i in range(1, 60)]
    return build_zone(
        [service("web"), service("big", cluster_ip="None"),
         service("alias", cluster_ip=None, type="ExternalName", externalName="example.org")],
        [endpoint_slice("big", many)], [], domain="cluster.local", serial=3)


async def start(zone: Callable[[], Zone], forwarder: Forwarder | None) -> DnsServer:
    server = DnsServer(Resolver(zone, forwarder), "127.0.0.1", 0)
    await server.start()
    return server


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream().start()
    yield fake
    fake.close()


@pytest.fixture
async def server(upstream: FakeUpstream) -> AsyncIterator[DnsServer]:
    zone = cluster_zone()
    forwarder = Forwarder([Upstream("127.0.0.1", upstream.port)], timeout=1.0)
    dns = await start(lambda: zone, forwarder)
    yield dns
    await dns.close()


def rdata(reply: DNSRecord, rtype: str) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == rtype)


async def test_udp_and_tcp_answers_are_authoritative(server: DnsServer) -> None:
    for query in (udp_query, tcp_query):
        reply = await query(server.port, "web.default.svc.cluster.local")
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
        assert rdata(reply, "A") == ["10.96.0.20"]
        assert reply.rr[0].ttl == 30


async def test_owner_name_keeps_the_question_case(server: DnsServer) -> None:
    reply = await udp_query(server.port, "WeB.DeFault.svc.Cluster.Local")
    assert str(reply.rr[0].rname) == "WeB.DeFault.svc.Cluster.Local."


async def test_nxdomain_and_nodata_carry_the_soa(server: DnsServer) -> None:
    miss = await udp_query(server.port, "web.default.svc.cluster.local.default.svc.cluster.local")
    assert miss.header.rcode == RCODE.NXDOMAIN and not miss.rr
    assert [QTYPE[rr.rtype] for rr in miss.auth] == ["SOA"]
    nodata = await udp_query(server.port, "web.default.svc.cluster.local", "AAAA")
    assert nodata.header.rcode == RCODE.NOERROR and not nodata.rr
    assert [QTYPE[rr.rtype] for rr in nodata.auth] == ["SOA"]


async def test_cluster_names_are_never_forwarded(server: DnsServer,
                                                 upstream: FakeUpstream) -> None:
    await udp_query(server.port, "missing.default.svc.cluster.local")
    await udp_query(server.port, "alias.default.svc.cluster.local")  # CNAME, not chased
    assert upstream.asked == []


async def test_external_name_answers_with_a_cname(server: DnsServer) -> None:
    reply = await udp_query(server.port, "alias.default.svc.cluster.local")
    assert rdata(reply, "CNAME") == ["example.org."] and rdata(reply, "A") == []


async def test_large_udp_answers_are_truncated_and_complete_over_tcp(server: DnsServer) -> None:
    small = await udp_query(server.port, "big.default.svc.cluster.local")
    assert small.header.tc == 1 and not small.rr
    assert str(small.q.qname) == "big.default.svc.cluster.local."
    large = await udp_query(server.port, "big.default.svc.cluster.local", edns=4096)
    assert large.header.tc == 0 and len(rdata(large, "A")) == 59
    assert any(QTYPE[rr.rtype] == "OPT" for rr in large.ar)
    full = await tcp_query(server.port, "big.default.svc.cluster.local")
    assert len(rdata(full, "A")) == 59


async def test_other_names_are_forwarded_upstream(server: DnsServer,
                                                  upstream: FakeUpstream) -> None:
    reply = await udp_query(server.port, "www.example.test")
    assert rdata(reply, "A") == ["192.0.2.1"]
    reply = await tcp_query(server.port, "api.example.test")
    assert rdata(reply, "A") == ["192.0.2.1"]
    assert upstream.asked == [("udp", "www.example.test", "A"), ("tcp", "api.example.test", "A")]


async def test_a_truncated_upstream_reply_is_retried_over_tcp() -> None:
    fake = await FakeUpstream(truncate_udp=True).start()
    dns = await start(cluster_zone, Forwarder([Upstream("127.0.0.1", fake.port)], timeout=1))
    try:
        reply = await udp_query(dns.port, "www.example.test")
        assert rdata(reply, "A") == ["192.0.2.1"]
        assert [t for t, _, _ in fake.asked] == ["udp", "tcp"]
    finally:
        await dns.close()
        fake.close()


async def test_dead_upstreams_give_servfail_and_the_next_one_is_tried() -> None:
    dead = await FakeUpstream(silent=True).start()
    alive = await FakeUpstream(address="192.0.2.7").start()
    only_dead = await start(cluster_zone, Forwarder([Upstream("127.0.0.1", dead.port)],
                                                     timeout=0.3))
    both = await start(cluster_zone, Forwarder(
        [Upstream("127.0.0.1", dead.port), Upstream("127.0.0.1", alive.port)], timeout=0.3))
    try:
        failed = await udp_query(only_dead.port, "www.example.test")
        assert failed.header.rcode == RCODE.SERVFAIL
        assert str(failed.q.qname) == "www.example.test."
        answered = await udp_query(both.port, "www.example.test")
        assert rdata(answered, "A") == ["192.0.2.7"]
    finally:
        for server in (only_dead, both):
            await server.close()
        dead.close()
        alive.close()


async def test_no_upstream_means_servfail() -> None:
    dns = await start(cluster_zone, None)
    try:
        reply = await udp_query(dns.port, "www.example.test")
        assert reply.header.rcode == RCODE.SERVFAIL
    finally:
        await dns.close()


async def test_forwarder_never_picks_its_own_addresses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch example.test\nnameserver 10.96.0.10\n"
                    "nameserver 127.0.0.1 ; ours on a wildcard\nnameserver 192.0.2.53\n")
    own = {Upstream("10.96.0.10"), Upstream("0.0.0.0")}
    forwarder = Forwarder(resolv_conf=str(conf), own=own)
    assert forwarder.upstreams() == [Upstream("192.0.2.53")]
    alone = Forwarder([Upstream("10.96.0.10")], own=own)
    assert alone.upstreams() == []
    assert await alone.forward(bytes(DNSRecord.question("x.test").pack()), tcp=False) is None


async def test_resolv_conf_is_reread_when_it_changes(tmp_path, upstream: FakeUpstream,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.53\n")
    forwarder = Forwarder(resolv_conf=str(conf))
    assert forwarder.upstreams() == [Upstream("192.0.2.53")]
    conf.write_text("nameserver 192.0.2.54\nnameserver 192.0.2.55\n")
    monkeypatch.setattr("dns.forward._RELOAD_EVERY", 0.0)
    assert forwarder.upstreams() == [Upstream("192.0.2.54"), Upstream("192.0.2.55")]
    conf.unlink()
    assert forwarder.upstreams() == []


def test_parsing_upstreams() -> None:
    assert parse_upstream("127.0.0.1:5353") == Upstream("127.0.0.1", 5353)
    assert parse_upstream("192.0.2.1") == Upstream("192.0.2.1", 53)
    assert parse_upstream("[::1]:5300") == Upstream("::1", 5300)
    assert parse_upstream("::1") == Upstream("::1", 53)
    for bad in ("dns.example:53", "127.0.0.1:0", "1.2.3.4:x"):
        with pytest.raises(ValueError):
            parse_upstream(bad)
    assert parse_resolv_conf("nameserver fe80::1%eth0\nnameserver bogus\noptions ndots:5\n") == [
        Upstream("fe80::1")]


async def test_malformed_and_unsupported_messages(server: DnsServer) -> None:
    garbage = await udp_raw(server.port, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff")
    assert garbage[:2] == b"\x12\x34" and garbage[3] & 0x0F == RCODE.FORMERR
    notify = DNSRecord.question("cluster.local", "SOA")
    notify.header.opcode = 4
    reply = DNSRecord.parse(await udp_raw(server.port, bytes(notify.pack())))
    assert reply.header.rcode == RCODE.NOTIMP
    chaos = DNSRecord.question("version.bind", "TXT", "CH")
    reply = DNSRecord.parse(await udp_raw(server.port, bytes(chaos.pack())))
    assert reply.header.rcode == RCODE.REFUSED


async def test_responses_sent_to_the_server_are_ignored(server: DnsServer) -> None:
    response = DNSRecord.question("web.default.svc.cluster.local").reply()
    with pytest.raises(TimeoutError):
        await udp_raw(server.port, bytes(response.pack()), timeout=0.3)


async def test_tcp_connection_carries_several_queries(server: DnsServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for name in ("web.default.svc.cluster.local", "nope.default.svc.cluster.local"):
            payload = bytes(DNSRecord.question(name).pack())
            writer.write(struct.pack("!H", len(payload)) + payload)
        await writer.drain()
        codes = []
        for _ in range(2):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            codes.append(DNSRecord.parse(await reader.readexactly(length)).header.rcode)
        assert codes == [RCODE.NOERROR, RCODE.NXDOMAIN]
    finally:
        writer.close()


async def test_binding_an_address_nobody_owns_fails_so_main_can_retry() -> None:
    server = DnsServer(Resolver(cluster_zone), "192.0.2.250", 0)
    with pytest.raises(OSError):
        await server.start()
    assert not server.listening


async def test_main_keeps_trying_until_the_address_is_free() -> None:
    from dns.__main__ import _bind

    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    server = DnsServer(Resolver(cluster_zone), "127.0.0.1", holder.getsockname()[1])
    binding = asyncio.create_task(_bind(server))
    try:
        await asyncio.sleep(0.3)
        assert not server.listening and not binding.done()
        holder.close()
        await asyncio.wait_for(binding, 3)
        assert server.listening
    finally:
        binding.cancel()
        holder.close()
        await server.close()
