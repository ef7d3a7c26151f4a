"""JSON Patch (RFC 6902) as the API server applies it, status codes included."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.patch import apply_json_patch
from apiserver.patch.jsonpatch import MAX_OPERATIONS, parse_pointer
from machinery.errors import ApiError, BadRequest, Invalid, RequestEntityTooLarge


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"a/b": "slash", "t~x": "tilde"}},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}},
        },
    }


def test_add_sets_and_overwrites_object_members() -> None:
    out = apply_json_patch(deployment(), [
        {"op": "add", "path": "/metadata/labels", "value": {"app": "web"}},
        {"op": "add", "path": "/spec/replicas", "value": 5},
    ])
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["spec"]["replicas"] == 5


def test_add_inserts_into_arrays_and_dash_appends() -> None:
    obj = {"a": [1, 2, 3]}
    assert apply_json_patch(obj, [{"op": "add", "path": "/a/1", "value": 9}]) == {"a": [1, 9, 2, 3]}
    assert apply_json_patch(obj, [{"op": "add", "path": "/a/3", "value": 9}]) == {"a": [1, 2, 3, 9]}
    assert apply_json_patch(obj, [{"op": "add", "path": "/a/-", "value": 9}]) == {"a": [1, 2, 3, 9]}


@pytest.mark.parametrize("path", ["/a/4", "/a/-1", "/a/x", "/a/1.5"])
def test_add_with_bad_array_index_is_422(path: str) -> None:
    with pytest.raises(Invalid) as err:
        apply_json_patch({"a": [1, 2, 3]}, [{"op": "add", "path": path, "value": 0}])
    assert err.value.code == 422


def test_remove_and_replace() -> None:
    out = apply_json_patch(deployment(), [
        {"op": "remove", "path": "/spec/replicas"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.26"},
    ])
    assert "replicas" not in out["spec"]
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"


def test_pointer_escapes_reach_keys_with_slash_and_tilde() -> None:
    out = apply_json_patch(deployment(), [
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "S"},
        {"op": "remove", "path": "/metadata/annotations/t~0x"},
    ])
    assert out["metadata"]["annotations"] == {"a/b": "S"}
    assert parse_pointer("/~01") == ["~1"]


@pytest.mark.parametrize("op", [
    {"op": "replace", "path": "/spec/missing", "value": 1},
    {"op": "remove", "path": "/spec/missing"},
    {"op": "remove", "path": "/spec/template/spec/containers/1"},
    {"op": "add", "path": "/nope/deeper", "value": 1},
    {"op": "move", "from": "/spec/missing", "path": "/spec/x"},
    {"op": "copy", "from": "/spec/missing", "path": "/spec/x"},
])
def test_paths_that_do_not_exist_are_422(op: dict[str, Any]) -> None:
    with pytest.raises(Invalid) as err:
        apply_json_patch(deployment(), [op])
    assert err.value.code == 422 and err.value.reason == "Invalid"


def test_move_and_copy() -> None:
    out = apply_json_patch({"a": {"x": [1]}, "b": {}}, [
        {"op": "copy", "from": "/a/x", "path": "/b/y"},
        {"op": "move", "from": "/a/x", "path": "/b/z"},
    ])
    assert out == {"a": {}, "b": {"y": [1], "z": [1]}}
    out["b"]["y"].append(2)
    assert out["b"]["z"] == [1], "copy must not alias the source"


def test_move_within_an_array_and_onto_itself() -> None:
    out = apply_json_patch({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/0", "path": "/a/-"}])
    assert out == {"a": [2, 3, 1]}
    assert apply_json_patch({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}]) == {"a": 1}


def test_move_into_own_child_is_422() -> None:
    with pytest.raises(Invalid):
        apply_json_patch({"a": {"b": {}}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}])


def test_test_op_passes_and_fails_with_422() -> None:
    obj = deployment()
    assert apply_json_patch(obj, [{"op": "test", "path": "/spec/replicas", "value": 2}]) == obj
    with pytest.raises(Invalid) as err:
        apply_json_patch(obj, [{"op": "test", "path": "/spec/replicas", "value": 3}])
    assert err.value.code == 422
    assert "/spec/replicas" in err.value.message


def test_test_op_uses_json_equality() -> None:
    obj = {"n": 1, "b": True, "f": 1.0}
    assert apply_json_patch(obj, [{"op": "test", "path": "/n", "value": 1.0}]) == obj
    with pytest.raises(Invalid):
        apply_json_patch(obj, [{"op": "test", "path": "/b", "value": 1}])
    with pytest.raises(Invalid):
        apply_json_patch(obj, [{"op": "test", "path": "/n", "value": True}])
    # A missing member tests equal to null, as in evanphx/json-patch.
    assert apply_json_patch(obj, [{"op": "test", "path": "/absent", "value": None}]) == obj


def test_rollout_undo_body() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "a"}]}}
    out = apply_json_patch(deployment(), [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}},
    ])
    assert out["spec"]["template"] == template
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


@pytest.mark.parametrize("body", [{"op": "add"}, "[]", None, 3])
def test_body_that_is_not_a_list_is_400(body: Any) -> None:
    with pytest.raises(BadRequest) as err:
        apply_json_patch({}, body)
    assert err.value.code == 400


def test_operation_that_is_not_an_object_is_400() -> None:
    with pytest.raises(BadRequest):
        apply_json_patch({}, [["add", "/a", 1]])


@pytest.mark.parametrize("op", [
    {"op": "frobnicate", "path": "/a"},
    {"path": "/a", "value": 1},
    {"op": "add", "value": 1},
    {"op": "add", "path": "/a"},
    {"op": "move", "path": "/a"},
    {"op": "add", "path": "a", "value": 1},
    {"op": "add", "path": "/a~2", "value": 1},
    {"op": "add", "path": 7, "value": 1},
])
def test_malformed_operations_are_422(op: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        apply_json_patch({"a": 0}, [op])


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * (MAX_OPERATIONS + 1)
    with pytest.raises(RequestEntityTooLarge) as err:
        apply_json_patch({}, ops)
    assert err.value.code == 413


def test_whole_document_replace_must_stay_an_object() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
    with pytest.raises(Invalid):
        apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}])
    with pytest.raises(Invalid):
        apply_json_patch({"a": 1}, [{"op": "remove", "path": ""}])


def test_input_is_never_mutated_even_by_a_failing_patch() -> None:
    obj = deployment()
    before = copy.deepcopy(obj)
    value = {"x": [1]}
    out = apply_json_patch(obj, [{"op": "add", "path": "/spec/v", "value": value}])
    out["spec"]["v"]["x"].append(2)
    assert value == {"x": [1]}
    with pytest.raises(Invalid):
        apply_json_patch(obj, [
            {"op": "remove", "path": "/spec/replicas"},
            {"op": "test", "path": "/metadata/name", "value": "other"},
        ])
    assert obj == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
_pointer = st.lists(st.sampled_from(["a", "b", "0", "1", "-", "~0", "~1", "~", "x"]), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts))
_op = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]), "path": _pointer},
    optional={"value": _json, "from": _pointer},
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "x"]), _json, max_size=3), st.lists(_op, max_size=4))
def test_any_patch_either_applies_or_raises_an_api_error(doc: dict[str, Any], ops: list[Any]) -> None:
    before = copy.deepcopy(doc)
    try:
        out = apply_json_patch(doc, ops)
    except ApiError as exc:
        assert exc.code in (400, 422)
    else:
        assert isinstance(out, dict)
    assert doc == before
