"""NodeAffinity: nodeSelector, required terms (all six operators, matchFields), preferred weights."""

from __future__ import annotations

from typing import Any

import pytest
from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code, MaxScore
from scheduler.plugins.node_affinity import REASON, NodeAffinity, term_matches


def _required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}


def test_node_selector() -> None:
    ssd = node_info(make_node("n1", labels={"disk": "ssd"}))
    hdd = node_info(make_node("n2", labels={"disk": "hdd"}))
    pod = make_pod("p", node_selector={"disk": "ssd"})
    assert NodeAffinity().filter(cycle(ssd, hdd), pod, ssd).is_success()
    status = NodeAffinity().filter(cycle(ssd, hdd), pod, hdd)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (REASON,)
    assert REASON == "node(s) didn't match Pod's node affinity/selector"


@pytest.mark.parametrize(("expr", "labels", "matches"), [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "b"}, True),
    ({"key": "zone", "operator": "In", "values": ["a"]}, {"zone": "b"}, False),
    ({"key": "zone", "operator": "In", "values": ["a"]}, {}, False),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "b"}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "a"}, False),
    ({"key": "gpu", "operator": "Exists"}, {"gpu": ""}, True),
    ({"key": "gpu", "operator": "Exists"}, {}, False),
    ({"key": "gpu", "operator": "DoesNotExist"}, {}, True),
    ({"key": "gpu", "operator": "DoesNotExist"}, {"gpu": "1"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "8"}, True),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "4"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "many"}, False),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, {"cores": "2"}, True),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, {}, False),
    ({"key": "cores", "operator": "Gt", "values": ["x"]}, {"cores": "8"}, False),
    ({"key": "zone", "operator": "Like", "values": ["a"]}, {"zone": "a"}, False),
])
def test_operators(expr: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert term_matches({"matchExpressions": [expr]}, labels, "n1") is matches


def test_terms_are_ored_and_expressions_anded() -> None:
    node = node_info(make_node("n1", labels={"zone": "a", "disk": "hdd"}))
    both = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                 {"key": "disk", "operator": "In", "values": ["ssd"]}]}
    zone_only = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    assert not NodeAffinity().filter(cycle(node), make_pod("p", affinity=_required(both)),
                                     node).is_success()
    assert NodeAffinity().filter(cycle(node), make_pod("q", affinity=_required(both, zone_only)),
                                 node).is_success()


def test_empty_term_matches_nothing() -> None:
    node = node_info(make_node("n1"))
    pod = make_pod("p", affinity=_required({}))
    assert not NodeAffinity().filter(cycle(node), pod, node).is_success()


def test_match_fields_on_node_name() -> None:
    n1, n2 = node_info(make_node("n1")), node_info(make_node("n2"))
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    pod = make_pod("p", affinity=_required(term))
    assert not NodeAffinity().filter(cycle(n1, n2), pod, n1).is_success()
    assert NodeAffinity().filter(cycle(n1, n2), pod, n2).is_success()
    not_in = {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n2"]}]}
    assert NodeAffinity().filter(cycle(n1), make_pod("q", affinity=_required(not_in)),
                                 n1).is_success()


def test_selector_and_affinity_must_both_hold() -> None:
    node = node_info(make_node("n1", labels={"zone": "a"}))
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    pod = make_pod("p", node_selector={"disk": "ssd"}, affinity=_required(term))
    assert not NodeAffinity().filter(cycle(node), pod, node).is_success()


def test_preferred_terms_score_by_weight_normalized() -> None:
    a = node_info(make_node("a", labels={"zone": "a", "disk": "ssd"}))
    b = node_info(make_node("b", labels={"zone": "b", "disk": "ssd"}))
    c = node_info(make_node("c", labels={"zone": "c"}))
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 30, "preference": {"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 10, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "Exists"}]}},
    ]}}
    pod = make_pod("p", affinity=affinity)
    state = cycle(a, b, c)
    plugin = NodeAffinity()
    scores = {info.name: plugin.score(state, pod, info) for info in (a, b, c)}
    assert scores == {"a": 40, "b": 10, "c": 0}
    plugin.normalize(state, pod, scores)
    assert scores == {"a": MaxScore, "b": 25, "c": 0}
