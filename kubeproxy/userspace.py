"""NodePort and LoadBalancer traffic: userspace listeners on the node's own addresses.

Every node's address is a loopback address of the machine (127.0.1.x), and
LoadBalancer ingress addresses come from a loopback pool too, so NAT rules
in the host's tables are neither needed nor wanted: kube-proxy simply
listens on ``nodeIP:nodePort``, on ``127.0.0.1:nodePort`` and on
``ingressIP:port``, and relays each connection (or UDP flow) to a usable
endpoint -- pod IPs on the cluster bridge are reachable from the host.
Addresses several kube-proxies share (127.0.0.1, ingress IPs) are bound
with ``SO_REUSEPORT``, so the kernel spreads connections over the nodes.

A listener exists only while its service port has usable backends: without
any, the kernel refuses the connection outright, as upstream's REJECT rule
does.  With ``externalTrafficPolicy: Local`` only nodes holding an endpoint
listen, which is what a cloud load balancer's health check achieves.
ClientIP session affinity keeps a client on the backend it was sent to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import Counter

from kubeproxy.servicemap import Backend, ServicePort

__all__ = ["ListenerKey", "Target", "listener_plan", "Listeners"]

log = logging.getLogger(__name__)
CONNECTIONS = Counter("k8py_kubeproxy_userspace_connections_total",
                      "Connections and UDP flows relayed by NodePort/LoadBalancer listeners",
                      ["protocol", "result"])
_CHUNK = 65536
_CONNECT_ATTEMPTS = 3
_UDP_IDLE = 60.0
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True, order=True)
class ListenerKey:
    protocol: str
    ip: str
    port: int
    # Bound with SO_REUSEPORT: an address every node's kube-proxy listens on.
    shared: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}/{self.protocol}"


@dataclass
class Target:
    """Where a listener sends traffic; updated in place as endpoints change."""

    service: str
    backends: tuple[Backend, ...]
    affinity_timeout: int | None = None
    _affinity: dict[str, tuple[Backend, float]] = field(default_factory=dict, repr=False)

    def choices(self, client_ip: str) -> list[Backend]:
        """Backends to try, in order: the client's sticky one first, then random."""
        order = random.sample(self.backends, len(self.backends))
        if self.affinity_timeout is not None:
            sticky = self._affinity.get(client_ip)
            if sticky and sticky[1] > time.monotonic() and sticky[0] in self.backends:
                order.remove(sticky[0])
                order.insert(0, sticky[0])
        return order[:_CONNECT_ATTEMPTS]

    def used(self, client_ip: str, backend: Backend) -> None:
        if self.affinity_timeout is not None:
            self._affinity[client_ip] = (backend, time.monotonic() + self.affinity_timeout)


def listener_plan(ports: Iterable[ServicePort], node_ip: str) -> dict[ListenerKey, Target]:
    """Every listener the node should have.

    NodePorts listen on the node's own address and on 127.0.0.1 (shared by all
    nodes on the machine); ingress IPs (shared too) on the service port.
    """
    plan: dict[ListenerKey, Target] = {}
    for port in ports:
        if port.protocol not in ("TCP", "UDP") or not port.external_backends:
            continue
        binds: list[tuple[str, int, bool]] = []
        if port.node_port:
            binds += [(node_ip, port.node_port, node_ip == LOCALHOST)]
            if node_ip != LOCALHOST:
                binds.append((LOCALHOST, port.node_port, True))
        binds += [(ip, port.port, True) for ip in port.ingress_ips]
        for ip, number, shared in binds:
            key = ListenerKey(port.protocol, ip, int(number), shared)
            plan.setdefault(key, Target(port.key, port.external_backends, port.affinity_timeout))
    return plan


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then half-close the other side."""
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()


class _TcpListener:
    def __init__(self, key: ListenerKey, target: Target, connect_timeout: float) -> None:
        self.key = key
        self.target = target
        self.connect_timeout = connect_timeout
        self.server: asyncio.base_events.Server | None = None

    async def open(self) -> None:
        self.server = await asyncio.start_server(
            self._handle, self.key.ip, self.key.port, reuse_address=True,
            reuse_port=self.key.shared,
            backlog=1024, limit=_CHUNK)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _connect(self, client_ip: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for backend in self.target.choices(client_ip):
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection(backend.ip, backend.port, limit=_CHUNK),
                    self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                log.debug("%s: backend %s failed: %s", self.target.service, backend.address, exc)
                continue
            self.target.used(client_ip, backend)
            return streams
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        upstream = await self._connect(str(peer[0]))
        if upstream is None:
            CONNECTIONS.labels("TCP", "no-backend").inc()
            writer.transport.abort()
            return
        CONNECTIONS.labels("TCP", "relayed").inc()
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side reset: tear both down below
        finally:
            writer.close()
            up_writer.close()


class _UdpFlow(asyncio.DatagramProtocol):
    """One client's flow to one backend; replies go back through the listener's socket."""

    def __init__(self, listener: _UdpListener, client: tuple[str, int]) -> None:
        self.listener = listener
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.last = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last = time.monotonic()
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, key: ListenerKey, target: Target, connect_timeout: float) -> None:
        self.key = key
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _UdpFlow] = {}
        self._pending: dict[tuple[str, int], list[bytes]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.key.ip, self.key.port),
                                            reuse_port=self.key.shared,
                                            family=socket.AF_INET)
        self._sweeper = loop.create_task(self._sweep())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is not None and flow.transport is not None:
            flow.last = time.monotonic()
            flow.transport.sendto(data)
        elif addr in self._pending:
            self._pending[addr].append(data)
        else:
            self._pending[addr] = [data]
            asyncio.get_running_loop().create_task(self._start_flow(addr))

    async def _start_flow(self, client: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        choices = self.target.choices(client[0])
        try:
            if not choices:
                raise OSError("no backend")
            backend = choices[0]
            _, flow = await loop.create_datagram_endpoint(
                lambda: _UdpFlow(self, client), remote_addr=(backend.ip, backend.port))
        except OSError as exc:
            CONNECTIONS.labels("UDP", "no-backend").inc()
            log.debug("%s: no UDP flow for %s: %s", self.target.service, client, exc)
            self._pending.pop(client, None)
            return
        CONNECTIONS.labels("UDP", "relayed").inc()
        self.target.used(client[0], backend)
        self.flows[client] = flow
        for data in self._pending.pop(client, []):
            if flow.transport is not None:
                flow.transport.sendto(data)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_UDP_IDLE / 4)
            now = time.monotonic()
            for client, flow in list(self.flows.items()):
                if now - flow.last > _UDP_IDLE and flow.transport is not None:
                    flow.transport.close()
                    del self.flows[client]

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for flow in self.flows.values():
            if flow.transport is not None:
                flow.transport.close()
        self.flows.clear()
        if self.transport is not None:
            self.transport.close()


_Listener = _TcpListener | _UdpListener


class Listeners:
    """The node's open listeners, reconciled against a plan on every sync."""

    def __init__(self, *, connect_timeout: float = 2.0) -> None:
        self.connect_timeout = connect_timeout
        self.open: dict[ListenerKey, _Listener] = {}
        self._failed: dict[ListenerKey, str] = {}

    async def update(self, plan: dict[ListenerKey, Target]) -> None:
        for key in sorted(set(self.open) - set(plan)):
            await self.open.pop(key).close()
            log.info("closed listener %s", key)
        for key, target in sorted(plan.items()):
            current = self.open.get(key)
            if current is not None:
                current.target.backends = target.backends
                current.target.affinity_timeout = target.affinity_timeout
                current.target.service = target.service
                continue
            listener: _Listener = (_TcpListener if key.protocol == "TCP" else _UdpListener)(
                key, target, self.connect_timeout)
            try:
                await listener.open()
            except OSError as exc:
                if self._failed.get(key) != str(exc):  # say it once, retry every sync
                    log.warning("cannot listen on %s for %s: %s", key, target.service, exc)
                self._failed[key] = str(exc)
                continue
            self._failed.pop(key, None)
            self.open[key] = listener
            log.info("listening on %s for %s", key, target.service)
        for key in set(self._failed) - set(plan):
            del self._failed[key]

    async def close_all(self) -> None:
        for listener in self.open.values():
            await listener.close()
        self.open.clear()
