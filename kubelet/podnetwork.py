"""Pod networking done by the kubelet itself, as a CNI bridge plugin does it.

Docker can give a sandbox its address on the cluster network, but joining a
user-defined network is the dearest part of starting a container: libnetwork's
endpoint, its IPAM store and the embedded-DNS rules it writes into every new
namespace cost the engine about 70 ms of CPU per pod, a sixth of all a pod
start costs on a two-core node (bench/README.md, pod_startup).  So when the
node has a pod CIDR of its own (``--node-pod-cidr``), its sandboxes start on
Docker's ``none`` network and the kubelet wires them: a veth pair whose node
end joins the cluster bridge and whose pod end becomes ``eth0`` with an
address from the node's range, on-link for the whole cluster subnet and
routed through the bridge's gateway, so pods reach each other, the node and
kube-proxy's DNAT targets exactly as Docker-attached ones do.

The node's range must lie outside the addresses Docker's IPAM hands out on
that network (its ``IPRange``), or the two could give one address twice; a
network without such a range leaves the node on Docker's IPAM.  The address
is recorded on the sandbox as a label, which is how a restarted kubelet knows
which addresses are taken and what each pod's IP is.  The veth pair needs no
clean-up: it goes with the sandbox's namespace.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from machinery.commands import run_command

from kubelet.runtime import LABEL_POD_IP, ContainerInfo, DockerRuntime

__all__ = ["PodNetworkError", "BridgeNetwork", "bridge_network", "docker_ip_range",
           "host_interface", "is_wired", "wired_addresses"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Runner = Callable[..., Awaitable[tuple[int, str]]]  # machinery.commands.run_command


class PodNetworkError(Exception):
    """A sandbox could not be given its address."""


def host_interface(sandbox_id: str) -> str:
    """The node end of a sandbox's veth pair: unique per sandbox, within IFNAMSIZ (15)."""
    return f"veth{sandbox_id[:11]}"


@dataclass
class BridgeNetwork:
    """Addresses from ``node_cidr`` on the Docker bridge ``bridge`` of subnet ``subnet``."""

    bridge: str
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    node_cidr: ipaddress.IPv4Network
    run: Runner = run_command

    def __post_init__(self) -> None:
        self._taken: set[str] = set()
        self._pending: set[str] = set()  # handed out, their sandboxes not created yet

    @property
    def cidr(self) -> str:
        return str(self.node_cidr)

    def forget_all_but(self, in_use: Iterable[str]) -> None:
        """Only ``in_use`` (the addresses on this node's sandboxes) and the addresses
        handed out for sandboxes still being created stay taken."""
        self._taken = {ip for ip in in_use if ip} | self._pending

    async def allocate(self, in_use: Callable[[], Awaitable[Iterable[str]]]) -> str:
        """The next free address of the node's range, taken until ``settle``.

        Addresses are not reused until the range runs out; only then is ``in_use``
        (the addresses on the sandboxes that exist now) asked, so a busy node does
        not list its containers for every pod, and a freed address rests a while
        before another pod gets it.
        """
        for refreshed in (False, True):
            if refreshed:
                self.forget_all_but(await in_use())
            for address in self.node_cidr.hosts():
                ip = str(address)
                if address != self.gateway and ip not in self._taken:
                    self._taken.add(ip)
                    self._pending.add(ip)
                    return ip
        raise PodNetworkError(f"no free address left in the node's pod CIDR {self.node_cidr}")

    def settle(self, ip: str, created: bool) -> None:
        """The sandbox for ``ip`` now exists and carries it (``created``), or never will."""
        self._pending.discard(ip)
        if not created:
            self._taken.discard(ip)

    async def wire(self, pid: int, sandbox_id: str, ip: str) -> None:
        """Give the namespace of ``pid`` an ``eth0`` with ``ip`` on the cluster bridge.

        Two processes: ``ip`` on the node creates the pair with its pod end
        already inside the namespace and puts the node end on the bridge;
        ``nsenter ... ip`` addresses and raises ``eth0`` and adds the route.
        """
        if pid <= 0:
            raise PodNetworkError("sandbox has no process to enter")
        veth = host_interface(sandbox_id)
        node_side = (f"link add {veth} type veth peer name eth0 netns {pid}\n"
                     f"link set {veth} master {self.bridge} up\n")
        code, out = await self.run(["ip", "-batch", "-"], stdin=node_side.encode())
        if code != 0:
            raise PodNetworkError(f"cannot create the veth pair for the pod (ip exit {code}): "
                                  f"{out}")
        pod_side = (f"addr add {ip}/{self.subnet.prefixlen} dev eth0\n"
                    "link set eth0 up\n"
                    f"route add default via {self.gateway}\n")
        code, out = await self.run(["nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"],
                                   stdin=pod_side.encode())
        if code != 0:
            raise PodNetworkError(f"cannot address eth0 in the pod network namespace "
                                  f"(nsenter/ip exit {code}): {out}")


def bridge_network(network: Obj, node_cidr: str) -> BridgeNetwork | None:
    """The wiring for ``node_cidr`` on the inspected Docker ``network``, or None (with the
    reason logged) when it cannot be used safely and Docker's IPAM must stay in charge."""
    if not node_cidr:
        return None
    try:
        cidr = ipaddress.ip_network(node_cidr)
    except ValueError:
        log.warning("--node-pod-cidr %r is not a CIDR; pods get addresses from Docker",
                    node_cidr)
        return None
    pools = (network.get("IPAM") or {}).get("Config") or []
    pool = next((p for p in pools if ":" not in str(p.get("Subnet", ":"))), None)
    if pool is None or not isinstance(cidr, ipaddress.IPv4Network):
        log.warning("network %s has no IPv4 subnet for %s; pods get addresses from Docker",
                    network.get("Name"), node_cidr)
        return None
    subnet = ipaddress.IPv4Network(pool["Subnet"], strict=False)
    docker_range = ipaddress.IPv4Network(pool.get("IPRange") or pool["Subnet"], strict=False)
    if not cidr.subnet_of(subnet) or cidr.overlaps(docker_range):
        log.warning("node pod CIDR %s is not inside %s outside Docker's range %s on network "
                    "%s; pods get addresses from Docker", cidr, subnet, docker_range,
                    network.get("Name"))
        return None
    gateway = ipaddress.IPv4Address(pool.get("Gateway") or next(subnet.hosts()))
    options = network.get("Options") or {}
    bridge = options.get("com.docker.network.bridge.name") or f"br-{str(network['Id'])[:12]}"
    return BridgeNetwork(bridge=str(bridge), subnet=subnet, gateway=gateway, node_cidr=cidr)


def docker_ip_range(subnet: str, node_cidr: str) -> str:
    """What Docker's IPAM may hand out on a cluster network this kubelet creates: the
    subnet's first block of a node CIDR's size (10.244.0.0/24 of 10.244.0.0/16 when nodes
    get /24s), so every other block can be a node's.  Empty (all of it) without a node CIDR.
    """
    if not node_cidr:
        return ""
    try:
        network = ipaddress.ip_network(subnet, strict=False)
        size = ipaddress.ip_network(node_cidr, strict=False).prefixlen
        return str(next(network.subnets(new_prefix=size)))
    except (ValueError, StopIteration):
        return ""


async def wired_addresses(runtime: DockerRuntime) -> list[str]:
    """The addresses on this node's sandboxes now: wired ones carry theirs as a label."""
    rows = await runtime.list_summaries()
    return [str((row.get("Labels") or {}).get(LABEL_POD_IP) or "") for row in rows]


def is_wired(sandbox: ContainerInfo, sys_class_net: str = "/sys/class/net") -> bool:
    """Whether ``sandbox`` has the network it was made for.

    A sandbox the kubelet wires has its address only once its veth pair exists; a
    kubelet that died between starting one and wiring it left a pod with nothing but
    loopback, which must be replaced, not filled with containers.  Sandboxes on a
    Docker network always count as wired.
    """
    if not sandbox.labels.get(LABEL_POD_IP):
        return True
    return os.path.exists(os.path.join(sys_class_net, host_interface(sandbox.id)))
