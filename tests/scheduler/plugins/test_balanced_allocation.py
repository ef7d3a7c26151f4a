"""NodeResourcesBalancedAllocation: even CPU and memory use scores high."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import MaxScore
from scheduler.plugins.balanced_allocation import BalancedAllocation


def test_balanced_node_beats_lopsided_one() -> None:
    lopsided = node_info(make_node("lop", cpu="4", memory="4Gi"),
                         make_pod("a", node="lop", cpu="3"))
    even = node_info(make_node("even", cpu="4", memory="4Gi"),
                     make_pod("b", node="even", cpu="1", memory="1Gi"))
    pod = make_pod("p", cpu="500m", memory="512Mi")
    state = cycle(lopsided, even)
    plugin = BalancedAllocation()
    # lopsided: cpu 3.5/4 = .875, memory .125 -> std .375 -> 62; even: .375/.375 -> 100.
    assert plugin.score(state, pod, lopsided) == 62
    assert plugin.score(state, pod, even) == MaxScore


def test_fractions_are_capped_at_one() -> None:
    node = node_info(make_node("n", cpu="1", memory="1Gi"))
    pod = make_pod("p", cpu="3")
    # cpu capped to 1, memory 0 -> std .5 -> 50
    assert BalancedAllocation().score(cycle(node), pod, node) == 50


def test_request_less_pods_are_balanced() -> None:
    node = node_info(make_node("n"))
    assert BalancedAllocation().score(cycle(node), make_pod("p"), node) == MaxScore
