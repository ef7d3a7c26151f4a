"""JSON Merge Patch (RFC 7386), including the RFC's own example table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.patch import apply_merge_patch
from apiserver.patch.mergepatch import merge_patch_value
from machinery.errors import BadRequest


@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_rfc7386_examples(target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_merge_patch(target, patch) == expected


def test_rfc7386_non_object_cases_through_the_value_function() -> None:
    assert merge_patch_value(["a", "b"], ["c", "d"]) == ["c", "d"]
    assert merge_patch_value({"a": "b"}, ["c"]) == ["c"]
    assert merge_patch_value({"a": "foo"}, None) is None
    assert merge_patch_value([1, 2], {"a": "b", "c": None}) == {"a": "b"}


def test_kubectl_scale_and_label_bodies() -> None:
    obj = {"metadata": {"name": "x", "labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 1}}
    scaled = apply_merge_patch(obj, {"spec": {"replicas": 3}})
    assert scaled["spec"] == {"replicas": 3}
    relabeled = apply_merge_patch(obj, {"metadata": {"labels": {"tier": None, "env": "prod"}}})
    assert relabeled["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert relabeled["metadata"]["name"] == "x"


def test_lists_are_replaced_not_merged() -> None:
    obj = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    out = apply_merge_patch(obj, {"spec": {"containers": [{"name": "c", "x": None}]}})
    assert out["spec"]["containers"] == [{"name": "c", "x": None}]


@pytest.mark.parametrize("patch", [None, [1], "x", 3])
def test_a_patch_that_is_not_an_object_is_400(patch: Any) -> None:
    with pytest.raises(BadRequest):
        apply_merge_patch({"a": 1}, patch)


def test_inputs_are_not_mutated_and_results_do_not_alias_them() -> None:
    obj = {"a": {"b": [1]}, "c": 1}
    patch = {"a": {"d": {"e": [2]}}, "c": None}
    before_obj, before_patch = copy.deepcopy(obj), copy.deepcopy(patch)
    out = apply_merge_patch(obj, patch)
    out["a"]["b"].append(9)
    out["a"]["d"]["e"].append(9)
    assert obj == before_obj and patch == before_patch


def test_deeply_nested_patch_does_not_exhaust_the_stack() -> None:
    patch: dict[str, Any] = {}
    node = patch
    for _ in range(5000):
        node["k"] = {}
        node = node["k"]
    out = apply_merge_patch({}, patch)
    depth = 0
    while out:
        out = out["k"]
        depth += 1
    assert depth == 5000
