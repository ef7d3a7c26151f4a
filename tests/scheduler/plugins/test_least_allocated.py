"""NodeResourcesLeastAllocated: free fraction after placing the pod, request-less pods counted by default."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.plugins.least_allocated import LeastAllocated


def test_emptier_node_scores_higher() -> None:
    empty = node_info(make_node("empty", cpu="4", memory="4Gi"))
    busy = node_info(make_node("busy", cpu="4", memory="4Gi"),
                     make_pod("a", node="busy", cpu="2", memory="2Gi"))
    pod = make_pod("p", cpu="1", memory="1Gi")
    state = cycle(empty, busy)
    plugin = LeastAllocated()
    # cpu (4-1)/4 = 75, memory 75 -> 75; busy: (4-3)/4 = 25 for both -> 25.
    assert plugin.score(state, pod, empty) == 75
    assert plugin.score(state, pod, busy) == 25


def test_request_less_pods_count_defaults() -> None:
    node = node_info(make_node("n", cpu="1", memory="1000Mi"),
                     make_pod("a", node="n"))  # counts as 100m and 200Mi
    pod = make_pod("p")  # likewise
    # cpu (1000-200)/1000 -> 80; memory (1000Mi-400Mi)/1000Mi -> 60; mean 70.
    assert LeastAllocated().score(cycle(node), pod, node) == 70


def test_over_committed_resource_scores_zero() -> None:
    node = node_info(make_node("n", cpu="1", memory="1Gi"))
    pod = make_pod("p", cpu="2", memory="512Mi")
    assert LeastAllocated().score(cycle(node), pod, node) == (0 + 50) // 2
