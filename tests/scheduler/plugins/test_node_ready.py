"""NodeReady: only Ready nodes, unless the pod tolerates the taint the condition stands for."""

from __future__ import annotations

import pytest
from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code
from scheduler.plugins.node_ready import REASON, NodeReady


def test_ready_node_passes() -> None:
    info = node_info(make_node("n1"))
    assert NodeReady().filter(cycle(info), make_pod("p"), info).is_success()


@pytest.mark.parametrize("ready", ["False", "Unknown", None])
def test_not_ready_or_silent_node_is_filtered(ready: str | None) -> None:
    info = node_info(make_node("n1", ready=ready))
    status = NodeReady().filter(cycle(info), make_pod("p"), info)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (REASON,)


def test_not_ready_tolerated_by_key() -> None:
    info = node_info(make_node("n1", ready="False"))
    pod = make_pod("ds", tolerations=[{"key": "node.kubernetes.io/not-ready",
                                       "operator": "Exists"}])
    assert NodeReady().filter(cycle(info), pod, info).is_success()


def test_unknown_needs_the_unreachable_toleration() -> None:
    info = node_info(make_node("n1", ready="Unknown"))
    not_ready_only = make_pod("p", tolerations=[{"key": "node.kubernetes.io/not-ready",
                                                 "operator": "Exists"}])
    unreachable = make_pod("q", tolerations=[{"key": "node.kubernetes.io/unreachable",
                                              "operator": "Exists", "effect": "NoSchedule"}])
    assert not NodeReady().filter(cycle(info), not_ready_only, info).is_success()
    assert NodeReady().filter(cycle(info), unreachable, info).is_success()


def test_default_noexecute_tolerations_do_not_cover_scheduling() -> None:
    """The API adds NoExecute tolerations (300 s) to every pod; they must not admit it."""
    info = node_info(make_node("n1", ready="False"))
    pod = make_pod("p", tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 300}])
    assert not NodeReady().filter(cycle(info), pod, info).is_success()
