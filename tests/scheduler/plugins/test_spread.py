"""SelectorSpread: fewer siblings (same controller or same Service) on a node scores higher."""

from __future__ import annotations

from typing import Any

from tests.scheduler.builders import cycle, make_node, make_pod, node_info, service

from scheduler.framework import MaxScore, NodeInfo
from scheduler.plugins.spread import ZONE_LABEL, SelectorSpread


def _scores(pod: dict[str, Any], *infos: NodeInfo,
            services: list[dict[str, Any]] | None = None) -> dict[str, int]:
    state = cycle(*infos, services=services)
    plugin = SelectorSpread()
    scores = {info.name: plugin.score(state, pod, info) for info in infos}
    plugin.normalize(state, pod, scores)
    return scores


def test_same_owner_siblings_push_away() -> None:
    a = node_info(make_node("a"), make_pod("x1", node="a", owner_uid="rs1"),
                  make_pod("x2", node="a", owner_uid="rs1"))
    b = node_info(make_node("b"), make_pod("x3", node="b", owner_uid="rs1"))
    c = node_info(make_node("c"), make_pod("other", node="c", owner_uid="rs2"))
    pod = make_pod("x4", owner_uid="rs1")
    assert _scores(pod, a, b, c) == {"a": 0, "b": 50, "c": MaxScore}


def test_service_selector_siblings() -> None:
    a = node_info(make_node("a"), make_pod("w1", node="a", labels={"app": "web"}))
    b = node_info(make_node("b"), make_pod("db", node="b", labels={"app": "db"}))
    pod = make_pod("w2", labels={"app": "web", "tier": "front"})
    services = [service("web", {"app": "web"})]
    assert _scores(pod, a, b, services=services) == {"a": 0, "b": MaxScore}


def test_other_namespace_and_deleting_pods_do_not_count() -> None:
    other_ns = make_pod("x1", namespace="other", node="a", owner_uid="rs1")
    deleting = make_pod("x2", node="b", owner_uid="rs1")
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    a = node_info(make_node("a"), other_ns)
    b = node_info(make_node("b"), deleting)
    assert _scores(make_pod("x3", owner_uid="rs1"), a, b) == {"a": MaxScore, "b": MaxScore}


def test_unowned_pod_has_no_preference() -> None:
    a = node_info(make_node("a"), make_pod("x1", node="a", labels={"app": "web"}))
    b = node_info(make_node("b"))
    assert _scores(make_pod("lonely", labels={"app": "web"}), a, b) == {
        "a": MaxScore, "b": MaxScore}


def test_zones_weigh_two_thirds() -> None:
    a1 = node_info(make_node("a1", labels={ZONE_LABEL: "a"}),
                   make_pod("x1", node="a1", owner_uid="rs1"))
    a2 = node_info(make_node("a2", labels={ZONE_LABEL: "a"}))
    b1 = node_info(make_node("b1", labels={ZONE_LABEL: "b"}))
    scores = _scores(make_pod("x2", owner_uid="rs1"), a1, a2, b1)
    # a2 is empty itself but shares zone a with the sibling: 100/3 + 0 = 33.
    assert scores == {"a1": 0, "a2": 33, "b1": MaxScore}
