"""NodeUnschedulable: cordoned nodes take only pods that tolerate the unschedulable taint."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code
from scheduler.plugins.node_unschedulable import REASON, NodeUnschedulable


def test_schedulable_node_passes() -> None:
    info = node_info(make_node("n1"))
    assert NodeUnschedulable().filter(cycle(info), make_pod("p"), info).is_success()


def test_cordoned_node_is_unresolvable() -> None:
    info = node_info(make_node("n1", unschedulable=True))
    status = NodeUnschedulable().filter(cycle(info), make_pod("p"), info)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (REASON,)
    assert REASON == "node(s) were unschedulable"


def test_toleration_of_the_unschedulable_taint_lets_the_pod_in() -> None:
    info = node_info(make_node("n1", unschedulable=True))
    pod = make_pod("ds", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                       "operator": "Exists", "effect": "NoSchedule"}])
    assert NodeUnschedulable().filter(cycle(info), pod, info).is_success()


def test_toleration_of_another_effect_does_not() -> None:
    info = node_info(make_node("n1", unschedulable=True))
    pod = make_pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                      "operator": "Exists", "effect": "NoExecute"}])
    assert not NodeUnschedulable().filter(cycle(info), pod, info).is_success()
