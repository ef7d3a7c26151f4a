"""kubelet.podnetwork: the node's own pod addresses and the veth wiring, without Docker."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kubelet.podnetwork import BridgeNetwork, PodNetworkError, bridge_network, docker_ip_range, \
    host_interface, is_wired
from kubelet.runtime import LABEL_POD_IP, ContainerInfo


def network(ip_range: str | None = "10.244.0.0/24", **options: str) -> dict[str, Any]:
    pool: dict[str, str] = {"Subnet": "10.244.0.0/16", "Gateway": "10.244.0.1"}
    if ip_range:
        pool["IPRange"] = ip_range
    return {"Name": "k8py", "Id": "d4cad49dddb8f00d", "Options": options,
            "IPAM": {"Config": [pool]}}


def test_bridge_network_uses_the_bridge_gateway_and_whole_subnet_prefix() -> None:
    wired = bridge_network(network(), "10.244.3.0/24")
    assert wired is not None
    assert (wired.bridge, str(wired.gateway), wired.subnet.prefixlen, wired.cidr) == \
        ("br-d4cad49dddb8", "10.244.0.1", 16, "10.244.3.0/24")
    named = bridge_network(network(**{"com.docker.network.bridge.name": "k8py0"}), "10.244.3.0/24")
    assert named is not None and named.bridge == "k8py0"


@pytest.mark.parametrize("ip_range, node_cidr", [
    (None, "10.244.3.0/24"),            # Docker may hand out the whole subnet
    ("10.244.0.0/23", "10.244.1.0/24"),  # overlaps Docker's range
    ("10.244.0.0/24", "10.245.3.0/24"),  # outside the subnet
    ("10.244.0.0/24", "not-a-cidr"),
    ("10.244.0.0/24", ""),
])
def test_bridge_network_leaves_unsafe_ranges_to_docker(ip_range: str | None,
                                                       node_cidr: str) -> None:
    assert bridge_network(network(ip_range), node_cidr) is None


def test_docker_ip_range_is_the_subnets_first_node_sized_block() -> None:
    assert docker_ip_range("10.244.0.0/16", "10.244.5.0/24") == "10.244.0.0/24"
    assert docker_ip_range("10.231.8.0/21", "10.231.9.64/26") == "10.231.8.0/26"
    assert docker_ip_range("10.244.0.0/16", "") == ""


def wired(cidr: str = "10.244.3.0/30", runner: Any = None) -> BridgeNetwork:
    net = BridgeNetwork(bridge="br-x", subnet=ipaddress.IPv4Network("10.244.0.0/16"),
                        gateway=ipaddress.IPv4Address("10.244.0.1"),
                        node_cidr=ipaddress.IPv4Network(cidr))
    if runner is not None:
        net.run = runner
    return net


async def test_addresses_are_handed_out_once_and_reused_only_when_the_range_is_full() -> None:
    net = wired()  # hosts .1 and .2
    asked: list[int] = []

    async def in_use() -> list[str]:
        asked.append(1)
        return ["10.244.3.2"]

    first = await net.allocate(in_use)
    net.settle(first, created=True)
    second = await net.allocate(in_use)
    assert (first, second, asked) == ("10.244.3.1", "10.244.3.2", [])
    net.settle(second, created=True)
    # Full: the sandboxes listed now hold only .2, so .1 is free again.
    assert await net.allocate(in_use) == "10.244.3.1" and asked == [1]


async def test_a_pending_address_survives_a_refresh_and_a_failed_one_is_freed() -> None:
    net = wired()

    async def nothing() -> list[str]:
        return []

    pending = await net.allocate(nothing)
    failed = await net.allocate(nothing)
    net.settle(failed, created=False)
    assert await net.allocate(nothing) == failed  # freed at once
    with pytest.raises(PodNetworkError, match="no free address"):
        await net.allocate(nothing)  # the refresh keeps both pending ones
    net.forget_all_but([])
    assert pending in net._pending


async def test_wire_creates_the_pair_then_addresses_eth0_inside_the_pod() -> None:
    calls: list[tuple[list[str], bytes | None]] = []

    async def runner(argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
        calls.append((argv, stdin))
        return 0, ""

    await wired(runner=runner).wire(4242, "abcdef0123456789", "10.244.3.7")
    (node_argv, node_in), (pod_argv, pod_in) = calls
    assert node_argv == ["ip", "-batch", "-"]
    assert node_in == (b"link add vethabcdef01234 type veth peer name eth0 netns 4242\n"
                       b"link set vethabcdef01234 master br-x up\n")
    assert pod_argv == ["nsenter", "-t", "4242", "-n", "ip", "-batch", "-"]
    assert pod_in == (b"addr add 10.244.3.7/16 dev eth0\nlink set eth0 up\n"
                      b"route add default via 10.244.0.1\n")
    assert len(host_interface("abcdef0123456789")) <= 15


async def test_wire_failures_name_the_step() -> None:
    async def failing(argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
        return 2, "RTNETLINK answers: File exists"

    with pytest.raises(PodNetworkError, match="veth pair.*File exists"):
        await wired(runner=failing).wire(4242, "abc", "10.244.3.7")
    with pytest.raises(PodNetworkError, match="no process"):
        await wired(runner=failing).wire(0, "abc", "10.244.3.7")


def test_a_wired_sandbox_reports_its_labelled_address_while_it_runs() -> None:
    data = {"Id": "c1", "Config": {"Labels": {LABEL_POD_IP: "10.244.3.7"}},
            "State": {"Status": "running", "Running": True, "Pid": 7},
            "NetworkSettings": {"Networks": {"none": {"IPAddress": ""}}}}
    assert ContainerInfo.from_inspect(data, "k8py").ip == "10.244.3.7"
    data["State"] = {"Status": "exited", "Running": False}
    assert ContainerInfo.from_inspect(data, "k8py").ip == ""


def test_a_wired_sandbox_without_its_veth_is_not_wired(tmp_path: Any) -> None:
    labelled = ContainerInfo(id="abcdef0123456789", name="s", labels={LABEL_POD_IP: "10.244.3.7"},
                             state="running")
    assert not is_wired(labelled, str(tmp_path))
    (tmp_path / host_interface(labelled.id)).mkdir()
    assert is_wired(labelled, str(tmp_path))
    on_docker = ContainerInfo(id="0123", name="s", labels={}, state="running")
    assert is_wired(on_docker, str(tmp_path))
