"""The scheduler cache: bound pods, assumptions confirmed or forgotten, nodes coming and going."""

from __future__ import annotations

from tests.scheduler.builders import make_node, make_pod

from scheduler.cache import SchedulerCache


def _cpu(cache: SchedulerCache, node: str) -> int:
    info = cache.snapshot().get(node)
    assert info is not None
    return info.requested.get("cpu", 0)


def test_assume_counts_at_once_and_forget_undoes() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n1"))
    pod = make_pod("p", cpu="1")
    assumed = cache.assume(pod, "n1")
    assert assumed["spec"]["nodeName"] == "n1" and "nodeName" not in pod["spec"]
    assert cache.is_assumed("default/p") and _cpu(cache, "n1") == 1000
    cache.forget("default/p")
    assert not cache.is_assumed("default/p") and _cpu(cache, "n1") == 0


def test_confirmation_replaces_the_assumption_and_survives_forget() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n1"))
    pod = make_pod("p", cpu="1")
    cache.assume(pod, "n1")
    cache.set_pod(make_pod("p", cpu="1", node="n1"))
    assert not cache.is_assumed("default/p")
    cache.forget("default/p")  # a late bind failure must not drop a confirmed pod
    assert _cpu(cache, "n1") == 1000


def test_pod_bound_elsewhere_moves() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n1"))
    cache.set_node(make_node("n2"))
    cache.assume(make_pod("p", cpu="1"), "n1")
    cache.set_pod(make_pod("p", cpu="1", node="n2"))
    assert _cpu(cache, "n1") == 0 and _cpu(cache, "n2") == 1000
    assert cache.node_of("default/p") == "n2"


def test_pods_of_unknown_nodes_wait_for_the_node() -> None:
    cache = SchedulerCache()
    cache.set_pod(make_pod("p", cpu="1", node="later"))
    assert cache.snapshot().nodes == []
    cache.set_node(make_node("later"))
    assert _cpu(cache, "later") == 1000
    cache.remove_node("later")
    assert cache.node_names() == []
    assert cache.remove_pod("default/p")
    assert not cache.remove_pod("default/p")


def test_snapshot_is_name_ordered_and_carries_services() -> None:
    cache = SchedulerCache()
    for name in ("b", "a", "c"):
        cache.set_node(make_node(name))
    snap = cache.snapshot([{"metadata": {"name": "svc"}}])
    assert [i.name for i in snap.nodes] == ["a", "b", "c"]
    assert snap.services[0]["metadata"]["name"] == "svc"
