"""The scale-down order of ReplicaSet pods, rule by rule."""

from __future__ import annotations

from datetime import datetime, timezone

from controllers.podranking import pods_to_delete, rank_by_colocation, sort_for_deletion
from tests.controllers.workloads import pod

NOW = datetime(2024, 1, 2, tzinfo=timezone.utc)


def order(*pods: dict, related: list[dict] | None = None, now: datetime | None = NOW) -> list[str]:
    ranked = rank_by_colocation(list(pods), related if related is not None else list(pods))
    return [p["metadata"]["name"] for p in sort_for_deletion(ranked, now)]


def running(name: str, node: str = "n1", since: str = "2024-01-01T00:00:00Z", **kw: object) -> dict:
    return pod(name, node=node, phase="Running", ready_since=since, **kw)  # type: ignore[arg-type]


def test_unscheduled_before_scheduled() -> None:
    assert order(running("a"), pod("b")) == ["b", "a"]


def test_pending_before_unknown_before_running() -> None:
    assert order(pod("run", node="n", phase="Running"), pod("unk", node="n", phase="Unknown"),
                 pod("pend", node="n")) == ["pend", "unk", "run"]


def test_not_ready_before_ready() -> None:
    assert order(running("ready"), pod("notready", node="n1", phase="Running")) == \
        ["notready", "ready"]


def test_lower_deletion_cost_first() -> None:
    cheap = running("cheap", annotations={"controller.kubernetes.io/pod-deletion-cost": "-5"})
    dear = running("dear", annotations={"controller.kubernetes.io/pod-deletion-cost": "10"})
    assert order(dear, cheap) == ["cheap", "dear"]


def test_doubled_up_nodes_first() -> None:
    crowded = [running(f"c{i}", node="busy") for i in range(3)]
    alone = running("alone", node="quiet")
    assert order(alone, *crowded)[-1] == "alone"


def test_recently_ready_first_on_a_log_scale() -> None:
    old = running("old", node="a", since="2023-12-01T00:00:00Z")
    young = running("young", node="b", since="2024-01-01T23:59:00Z")
    assert order(old, young) == ["young", "old"]


def test_more_restarts_first() -> None:
    assert order(running("calm", node="a"), running("crashy", node="b", restarts=7)) == \
        ["crashy", "calm"]


def test_newer_first() -> None:
    older = running("older", node="a", created="2023-01-01T00:00:00Z")
    newer = running("newer", node="b", created="2024-01-01T00:00:00Z")
    assert order(older, newer) == ["newer", "older"]
    assert order(older, newer, now=None) == ["newer", "older"]


def test_pods_to_delete_takes_the_head_or_everything() -> None:
    pods = [running("keep"), pod("go")]
    assert [p["metadata"]["name"] for p in pods_to_delete(pods, pods, 1, NOW)] == ["go"]
    assert len(pods_to_delete(pods, pods, 5, NOW)) == 2
