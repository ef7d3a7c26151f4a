"""TaintToleration: NoSchedule/NoExecute filter; PreferNoSchedule scores."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code, MaxScore
from scheduler.plugins.taint_toleration import TaintToleration

GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def test_untolerated_taint_filters_with_upstream_wording() -> None:
    info = node_info(make_node("n1", taints=[GPU]))
    status = TaintToleration().filter(cycle(info), make_pod("p"), info)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) had untolerated taint {dedicated: gpu}",)


def test_matching_toleration_passes() -> None:
    info = node_info(make_node("n1", taints=[GPU]))
    equal = make_pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                        "effect": "NoSchedule"}])
    wildcard = make_pod("q", tolerations=[{"operator": "Exists"}])
    wrong_value = make_pod("r", tolerations=[{"key": "dedicated", "value": "cpu"}])
    plugin = TaintToleration()
    assert plugin.filter(cycle(info), equal, info).is_success()
    assert plugin.filter(cycle(info), wildcard, info).is_success()
    assert not plugin.filter(cycle(info), wrong_value, info).is_success()


def test_noexecute_filters_and_prefer_does_not() -> None:
    execute = node_info(make_node("n1", taints=[{"key": "k", "effect": "NoExecute"}]))
    prefer = node_info(make_node("n2", taints=[{"key": "k", "effect": "PreferNoSchedule"}]))
    plugin = TaintToleration()
    assert not plugin.filter(cycle(execute), make_pod("p"), execute).is_success()
    assert plugin.filter(cycle(prefer), make_pod("p"), prefer).is_success()
    reason = plugin.filter(cycle(execute), make_pod("p"), execute).reasons[0]
    assert reason == "node(s) had untolerated taint {k: }"


def test_prefer_no_schedule_scores_fewer_taints_higher() -> None:
    soft = [{"key": f"k{i}", "effect": "PreferNoSchedule"} for i in range(2)]
    clean = node_info(make_node("clean"))
    one = node_info(make_node("one", taints=soft[:1]))
    two = node_info(make_node("two", taints=soft))
    pod = make_pod("p", tolerations=[{"key": "k1", "operator": "Exists",
                                      "effect": "NoSchedule"}])  # wrong effect: no help
    state = cycle(clean, one, two)
    plugin = TaintToleration()
    scores = {i.name: plugin.score(state, pod, i) for i in (clean, one, two)}
    assert scores == {"clean": 0, "one": 1, "two": 2}
    plugin.normalize(state, pod, scores)
    assert scores == {"clean": MaxScore, "one": 50, "two": 0}
    tolerant = make_pod("q", tolerations=[{"key": "k1", "operator": "Exists"}])
    assert plugin.score(state, tolerant, two) == 1


def test_no_taints_anywhere_all_score_max() -> None:
    a, b = node_info(make_node("a")), node_info(make_node("b"))
    plugin = TaintToleration()
    scores = {i.name: plugin.score(cycle(a, b), make_pod("p"), i) for i in (a, b)}
    plugin.normalize(cycle(a, b), make_pod("p"), scores)
    assert scores == {"a": MaxScore, "b": MaxScore}
