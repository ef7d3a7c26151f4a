"""NodeName: a pod naming its node fits only there."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code
from scheduler.plugins.node_name import REASON, NodeName


def test_no_node_name_fits_anywhere() -> None:
    info = node_info(make_node("n1"))
    assert NodeName().filter(cycle(info), make_pod("p"), info).is_success()


def test_matching_and_other_node() -> None:
    n1, n2 = node_info(make_node("n1")), node_info(make_node("n2"))
    pod = make_pod("p", node="n1")
    assert NodeName().filter(cycle(n1, n2), pod, n1).is_success()
    status = NodeName().filter(cycle(n1, n2), pod, n2)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (REASON,)
