"""Required node placement as the DaemonSet controller and the scheduler read it."""

from __future__ import annotations

from typing import Any

import pytest

from machinery.nodeaffinity import (
    node_name_affinity,
    placement_matches,
    required_affinity_matches,
    target_node_name,
    term_matches,
)

NODE = {"metadata": {"name": "n1", "labels": {"zone": "a", "cpu": "8"}}}


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


@pytest.mark.parametrize(("spec", "fits"), [
    ({}, True),
    ({"nodeSelector": {"zone": "a"}}, True),
    ({"nodeSelector": {"zone": "b"}}, False),
    (required({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}),
     True),
    (required({"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["4"]}]}), True),
    (required({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
              {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}),
     True),
    (required({"matchFields": [{"key": "metadata.name", "operator": "NotIn",
                                "values": ["n1"]}]}), False),
    (required({}), False),  # an empty term matches nothing
    (required({"matchExpressions": [{"key": "zone", "operator": "Bogus"}]}), False),
])
def test_required_affinity(spec: dict[str, Any], fits: bool) -> None:
    assert required_affinity_matches(spec, NODE) is fits
    # The scheduler asks with its cached labels and name: same answer.
    assert placement_matches(spec, NODE["metadata"]["labels"], "n1") is fits


def test_a_field_term_needs_exactly_one_name() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]}
    assert not term_matches(term, {}, "n1")


def test_pinning_replaces_required_terms_and_keeps_the_rest() -> None:
    preferred = [{"weight": 1, "preference": {"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["a"]}]}}]
    affinity = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred},
        "podAntiAffinity": {"x": 1}}

    pinned = node_name_affinity(affinity, "n7")

    assert pinned["podAntiAffinity"] == {"x": 1}
    assert pinned["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    pod = {"spec": {"affinity": pinned}}
    assert target_node_name(pod) == "n7"
    assert required_affinity_matches(pod["spec"], {"metadata": {"name": "n7"}})
    assert not required_affinity_matches(pod["spec"], NODE)


def test_target_node_prefers_the_binding() -> None:
    assert target_node_name({"spec": {"nodeName": "n2", "affinity": node_name_affinity(
        None, "n1")}}) == "n2"
    assert target_node_name({"spec": {}}) is None
