"""userspace.py: which listeners a node opens, and that they relay TCP and UDP on loopback."""

from __future__ import annotations

import asyncio
import socket

from kubeproxy.servicemap import Backend, ServicePort
from kubeproxy.userspace import ListenerKey, Listeners, listener_plan
from tests.conftest import free_port


def port(*backends: Backend, node_port: int | None = 30080, ingress: tuple[str, ...] = (),
         protocol: str = "TCP", affinity: int | None = None) -> ServicePort:
    return ServicePort(namespace="shop", name="web", port_name="http", protocol=protocol,
                       cluster_ip="10.96.0.10", port=80, node_port=node_port,
                       ingress_ips=ingress, affinity_timeout=affinity,
                       cluster_backends=backends, external_backends=backends)


def test_node_ports_listen_on_the_node_ip_and_shared_localhost() -> None:
    backend = Backend("10.244.0.5", 8080)
    plan = listener_plan([port(backend, ingress=("127.0.2.1",))], "127.0.1.1")
    assert sorted((k.ip, k.port, k.shared) for k in plan) == [
        ("127.0.0.1", 30080, True), ("127.0.1.1", 30080, False), ("127.0.2.1", 80, True)]
    assert {t.service for t in plan.values()} == {"shop/web:http"}
    assert all(t.backends == (backend,) for t in plan.values())


def test_no_backends_means_no_listener_so_the_kernel_refuses() -> None:
    assert listener_plan([port(ingress=("127.0.2.1",))], "127.0.1.1") == {}


def test_cluster_ip_only_services_and_sctp_get_no_listener() -> None:
    backend = Backend("10.244.0.5", 8080)
    assert listener_plan([port(backend, node_port=None),
                          port(backend, protocol="SCTP")], "127.0.1.1") == {}


def test_localhost_node_ip_is_bound_once_and_shared() -> None:
    plan = listener_plan([port(Backend("10.244.0.5", 8080))], "127.0.0.1")
    assert [(k.ip, k.shared) for k in plan] == [("127.0.0.1", True)]


async def _echo_server() -> tuple[asyncio.base_events.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(b"echo:" + data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_tcp_listener_relays_and_skips_a_dead_backend() -> None:
    server, backend_port = await _echo_server()
    dead = Backend("127.0.0.1", free_port())
    live = Backend("127.0.0.1", backend_port)
    listeners = Listeners(connect_timeout=1.0)
    node_port = free_port()
    try:
        await listeners.update(listener_plan([port(dead, live, node_port=node_port)],
                                             "127.0.0.1"))
        for _ in range(4):  # whichever backend is tried first, the live one answers
            reader, writer = await asyncio.open_connection("127.0.0.1", node_port)
            writer.write(b"hi")
            assert await asyncio.wait_for(reader.read(100), 5) == b"echo:hi"
            writer.close()
        await listeners.update({})
        assert listeners.open == {}
        try:
            await asyncio.open_connection("127.0.0.1", node_port)
            raise AssertionError("a closed listener still accepted")
        except ConnectionRefusedError:
            pass
    finally:
        await listeners.close_all()
        server.close()


async def test_backends_change_without_reopening() -> None:
    first, first_port = await _echo_server()
    listeners = Listeners()
    node_port = free_port()
    key = ListenerKey("TCP", "127.0.0.1", node_port, True)
    try:
        await listeners.update(listener_plan(
            [port(Backend("127.0.0.1", first_port), node_port=node_port)], "127.0.0.1"))
        opened = listeners.open[key]
        await listeners.update(listener_plan(
            [port(Backend("127.0.0.1", first_port), Backend("127.0.0.1", 1),
                  node_port=node_port)], "127.0.0.1"))
        assert listeners.open[key] is opened and len(opened.target.backends) == 2
    finally:
        await listeners.close_all()
        first.close()


async def test_udp_listener_relays_replies_to_the_client() -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

    backend_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    backend_port = backend_transport.get_extra_info("sockname")[1]
    node_port = free_port()
    listeners = Listeners()
    try:
        await listeners.update(listener_plan(
            [port(Backend("127.0.0.1", backend_port), node_port=node_port, protocol="UDP")],
            "127.0.0.1"))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        client.connect(("127.0.0.1", node_port))
        for word in (b"one", b"two"):
            await loop.sock_sendall(client, word)
            assert await asyncio.wait_for(loop.sock_recv(client, 100), 5) == b"echo:" + word
        client.close()
    finally:
        await listeners.close_all()
        backend_transport.close()
