"""Field sets and the FieldsV1 encoding, against the schemas Kubernetes publishes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apiserver.patch as patch_package
from apiserver.patch.fieldpath import (compare, from_fields_v1, item_elements, object_fields, path_string,
                                       to_fields_v1)
from apiserver.patch.shapes import ANY, shape_of
from apiserver.schema import kind_schema

POD = shape_of(kind_schema("", "v1", "Pod"))
SPEC = POD.field("spec")
CONTAINER = SPEC.field("containers").elem


def test_public_api_is_exactly_the_engines() -> None:
    assert sorted(patch_package.__all__) == [
        "apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch",
        "server_side_apply", "update_managed_fields"]
    for name in patch_package.__all__:
        assert callable(getattr(patch_package, name))


def test_fields_v1_round_trip_marks_members_with_a_dot() -> None:
    fields = {("f:metadata", "f:labels", "f:app"), ("f:spec", "f:containers", 'k:{"name":"a"}'),
              ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")}
    tree = to_fields_v1(fields)
    assert tree == {"f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"a"}': {".": {}, "f:image": {}}}}}
    assert from_fields_v1(tree) == fields
    assert list(to_fields_v1({("f:b",), ("f:a",), ('k:{"x":1}',), ("v:1",), ("f:a", "f:z")})) == [
        "f:a", "f:b", 'k:{"x":1}', "v:1"]


@pytest.mark.parametrize("tree", [[], {"x:1": {}}, {"f:a": []}, {'k:{"a":': {}}, {"v:nope": {}}, {"f": {}}])
def test_malformed_fields_v1_is_rejected(tree: object) -> None:
    with pytest.raises(ValueError):
        from_fields_v1(tree)


def test_path_strings_match_kubernetes_conflict_fields() -> None:
    assert path_string(("f:spec", "f:replicas")) == ".spec.replicas"
    assert path_string(("f:spec", "f:containers", 'k:{"name":"web"}', "f:ports",
                        'k:{"containerPort":80,"protocol":"TCP"}')) == \
        '.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
    assert path_string(("f:x", "i:3")) == ".x[3]"


def test_item_elements_use_list_map_keys_with_the_protocol_default() -> None:
    ports = CONTAINER.field("ports")
    assert item_elements([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}], ports) == [
        'k:{"containerPort":80,"protocol":"TCP"}', 'k:{"containerPort":53,"protocol":"UDP"}']
    assert item_elements([{"name": "<&>"}], SPEC.field("containers")) == ['k:{"name":"\\u003c\\u0026\\u003e"}']
    assert item_elements(["a", 1], POD.field("metadata").field("finalizers")) == ['v:"a"', "v:1"]
    assert item_elements([{"image": "x"}], SPEC.field("containers")) is None
    assert item_elements(["a"], CONTAINER.field("args")) is None


def test_object_fields_follow_structured_merge_diff_membership() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"a": "1"}},
           "spec": {"nodeSelector": {"disk": "ssd"}, "securityContext": {}, "hostname": None,
                    "containers": [{"name": "c", "args": ["x"], "resources": {}}]},
           "status": {"phase": "Running"}}
    assert object_fields(pod, POD) == {
        ("f:metadata", "f:annotations", "f:a"),
        ("f:spec", "f:nodeSelector"),  # x-kubernetes-map-type: atomic
        ("f:spec", "f:securityContext"),
        ("f:spec", "f:hostname"),
        ("f:spec", "f:containers", 'k:{"name":"c"}'),
        ("f:spec", "f:containers", 'k:{"name":"c"}', "f:name"),
        ("f:spec", "f:containers", 'k:{"name":"c"}', "f:args"),
        ("f:spec", "f:containers", 'k:{"name":"c"}', "f:resources"),
    }
    assert object_fields(pod, POD, "status") == {("f:status", "f:phase")}


def test_object_fields_without_a_schema_own_every_key_and_treat_lists_atomically() -> None:
    assert object_fields({"spec": {"a": {"b": 1}, "l": [{"x": 1}]}}, ANY) == {
        ("f:spec",), ("f:spec", "f:a"), ("f:spec", "f:a", "f:b"), ("f:spec", "f:l")}


def test_compare_reports_added_removed_and_modified_paths() -> None:
    old = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}], "hostname": "h"}}
    new = {"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "c", "image": "1"}],
                    "dnsConfig": {"nameservers": ["1.1.1.1"]}}}
    added, removed, modified = compare(old, new, POD)
    a, b, c = ('k:{"name":"a"}', 'k:{"name":"b"}', 'k:{"name":"c"}')
    assert modified == {("f:spec", "f:containers", a, "f:image")}
    assert removed == {("f:spec", "f:hostname"), ("f:spec", "f:containers", b),
                       ("f:spec", "f:containers", b, "f:name"), ("f:spec", "f:containers", b, "f:image")}
    assert added == {("f:spec", "f:containers", c), ("f:spec", "f:containers", c, "f:name"),
                     ("f:spec", "f:containers", c, "f:image"), ("f:spec", "f:dnsConfig"),
                     ("f:spec", "f:dnsConfig", "f:nameservers")}


def test_compare_treats_duplicated_keys_as_opaque_items() -> None:
    old = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "a", "image": "2"}]}}
    new = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "a", "image": "3"}]}}
    assert compare(old, new, POD) == (set(), set(), {("f:spec", "f:containers", 'k:{"name":"a"}')})


_element = st.sampled_from(["f:a", "f:b", 'k:{"name":"x"}', "v:1", "f:c"])


@given(st.sets(st.lists(_element, min_size=1, max_size=4).map(tuple), max_size=12))
def test_any_field_set_survives_fields_v1(fields: set[tuple[str, ...]]) -> None:
    assert from_fields_v1(to_fields_v1(fields)) == fields
