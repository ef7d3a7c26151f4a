"""NodePorts: host port clashes by (hostIP, protocol, port), 0.0.0.0 clashing with everything."""

from __future__ import annotations

import pytest
from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code
from scheduler.plugins.node_ports import REASON, NodePorts, conflicts


def test_free_and_taken_ports() -> None:
    info = node_info(make_node("n1"), make_pod("web", node="n1", host_ports=[8080]))
    assert NodePorts().filter(cycle(info), make_pod("p", host_ports=[9090]), info).is_success()
    status = NodePorts().filter(cycle(info), make_pod("q", host_ports=[8080]), info)
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons == (REASON,)


def test_pod_without_host_ports_always_fits() -> None:
    info = node_info(make_node("n1"), make_pod("web", node="n1", host_ports=[80]))
    assert NodePorts().filter(cycle(info), make_pod("p"), info).is_success()


def test_port_freed_when_pod_leaves() -> None:
    info = node_info(make_node("n1"), make_pod("web", node="n1", host_ports=[8080]))
    info.remove_pod("default/web")
    assert NodePorts().filter(cycle(info), make_pod("q", host_ports=[8080]), info).is_success()


@pytest.mark.parametrize(("wanted", "used", "clash"), [
    (("0.0.0.0", "TCP", 80), ("10.0.0.1", "TCP", 80), True),
    (("10.0.0.1", "TCP", 80), ("0.0.0.0", "TCP", 80), True),
    (("10.0.0.1", "TCP", 80), ("10.0.0.2", "TCP", 80), False),
    (("10.0.0.1", "TCP", 80), ("10.0.0.1", "TCP", 80), True),
    (("0.0.0.0", "UDP", 80), ("0.0.0.0", "TCP", 80), False),
    (("0.0.0.0", "TCP", 81), ("0.0.0.0", "TCP", 80), False),
])
def test_conflict_rules(wanted: tuple[str, str, int], used: tuple[str, str, int],
                        clash: bool) -> None:
    assert conflicts(wanted, used) is clash
