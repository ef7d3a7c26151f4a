"""Strategic merge patch against the real v1.32 schemas, directive by directive."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.patch import apply_strategic_merge_patch
from apiserver.schema import kind_schema
from machinery.errors import ApiError, BadRequest, Invalid

DEPLOYMENT = kind_schema("apps", "v1", "Deployment")
POD = kind_schema("", "v1", "Pod")


def deployment() -> dict[str, Any]:
    """A Deployment as the server stores it after ``kubectl apply`` created it."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "x", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "generation": 1,
            "labels": {"app": "x"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"old":true}'},
            "finalizers": ["a.example.com/f"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                            "args": ["-g", "daemon off;"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"},
                                      {"containerPort": 443, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "resources": {"limits": {"cpu": "1"}},
                        },
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "restartPolicy": "Always",
                },
            },
        },
        "status": {"replicas": 2},
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [item[key] for item in items]


def test_kubectl_apply_update_body_changes_only_the_image() -> None:
    live = deployment()
    last_applied = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}})
    body = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
            "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}],
                                           "containers": [{"image": "nginx:1.26", "name": "web"}]}}}}
    out = apply_strategic_merge_patch(live, body, DEPLOYMENT)
    expected = deployment()
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = last_applied
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert out == expected
    assert live == deployment(), "the stored object must not change"


def test_new_container_merges_by_name_and_leads_without_an_order_directive() -> None:
    # Kubernetes places patch items not in the live list ahead of the live items
    # they cannot be ranked against; kubectl always sends $setElementOrder instead.
    out = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
        "containers": [{"name": "log", "image": "fluentbit"}, {"name": "sidecar", "image": "busybox:1.37"}]}}}},
        DEPLOYMENT)
    assert names(containers(out)) == ["log", "web", "sidecar"]
    assert containers(out)[2] == {"name": "sidecar", "image": "busybox:1.37"}
    assert containers(out)[1]["image"] == "nginx:1.25"


def test_nested_merge_lists_ports_env_mounts_and_volumes() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
        "containers": [{"name": "web",
                        "ports": [{"containerPort": 443, "name": "https"}],
                        "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                        "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}],
        "volumes": [{"name": "cache", "emptyDir": {}}]}}}}, DEPLOYMENT)
    web = containers(out)[0]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"},
                            {"containerPort": 443, "protocol": "TCP", "name": "https"}]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert web["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert names(out["spec"]["template"]["spec"]["volumes"]) == ["cache", "data"]


def test_lists_without_merge_strategy_are_replaced() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "args": ["-v"]}]}}}}, DEPLOYMENT)
    assert containers(out)[0]["args"] == ["-v"]


def test_null_deletes_and_maps_merge_recursively() -> None:
    out = apply_strategic_merge_patch(deployment(), {
        "metadata": {"labels": {"tier": "fe"}, "annotations": None},
        "spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": None}}}}, DEPLOYMENT)
    assert out["metadata"]["labels"] == {"app": "x", "tier": "fe"}
    assert "annotations" not in out["metadata"]
    assert out["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}


def test_nulls_inside_new_values_are_dropped() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"paused": True, "minReadySeconds": None,
                                                              "newThing": {"a": None, "b": 1}}}, DEPLOYMENT)
    assert out["spec"]["paused"] is True and "minReadySeconds" not in out["spec"]
    assert out["spec"]["newThing"] == {"b": 1}


def test_finalizers_merge_as_a_set_of_primitives() -> None:
    out = apply_strategic_merge_patch(deployment(), {"metadata": {
        "finalizers": ["b.example.com/f", "a.example.com/f"]}}, DEPLOYMENT)
    assert out["metadata"]["finalizers"] == ["b.example.com/f", "a.example.com/f"]


def test_delete_from_primitive_list() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b", "c"]
    out = apply_strategic_merge_patch(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}},
                                      DEPLOYMENT)
    assert out["metadata"]["finalizers"] == ["a", "c"]
    absent = apply_strategic_merge_patch({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
                                         DEPLOYMENT)
    assert absent == {"metadata": {}}
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": "b"}}, DEPLOYMENT)


def test_owner_references_merge_by_uid() -> None:
    live = deployment()
    live["metadata"]["ownerReferences"] = [{"uid": "1", "name": "a", "kind": "K", "apiVersion": "v1"}]
    out = apply_strategic_merge_patch(live, {"metadata": {"ownerReferences": [
        {"uid": "1", "controller": True}, {"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"}]}},
        DEPLOYMENT)
    assert out["metadata"]["ownerReferences"] == [
        {"uid": "1", "name": "a", "kind": "K", "apiVersion": "v1", "controller": True},
        {"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"}]


def test_pod_conditions_merge_by_type() -> None:
    pod = {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                     {"type": "PodScheduled", "status": "True"}]}}
    out = apply_strategic_merge_patch(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


def test_patch_replace_in_a_map_takes_the_patch_as_the_value() -> None:
    out = apply_strategic_merge_patch(deployment(), {"metadata": {"labels": {"$patch": "replace", "only": "me"}}},
                                      DEPLOYMENT)
    assert out["metadata"]["labels"] == {"only": "me"}


def test_patch_delete_in_a_map_empties_it() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"strategy": {"$patch": "delete"}}}, DEPLOYMENT)
    assert out["spec"]["strategy"] == {}
    missing = apply_strategic_merge_patch({"spec": {}}, {"spec": {"strategy": {"$patch": "delete"}}}, DEPLOYMENT)
    assert missing == {"spec": {}}


def test_patch_merge_in_a_map_is_the_default_merge() -> None:
    out = apply_strategic_merge_patch(deployment(), {"metadata": {"labels": {"$patch": "merge", "b": "2"}}},
                                      DEPLOYMENT)
    assert out["metadata"]["labels"] == {"app": "x", "b": "2"}


def test_patch_replace_as_a_list_item_replaces_the_list() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "i"}, {"$patch": "replace"}]}}}}, DEPLOYMENT)
    assert containers(out) == [{"name": "only", "image": "i"}]


def test_patch_delete_as_a_list_item_drops_that_key() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"}]}}}}, DEPLOYMENT)
    assert names(containers(out)) == ["web"]
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
            {"$patch": "delete"}]}}}}, DEPLOYMENT)


def test_patch_merge_as_a_list_item_forces_merging() -> None:
    live = {"spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["a"]}]}}}}
    out = apply_strategic_merge_patch(live, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "i"}, {"$patch": "merge"}]}}}}, DEPLOYMENT)
    assert containers(out) == [{"name": "web", "args": ["a"], "image": "i"}]


@pytest.mark.parametrize("patch", [
    {"metadata": {"labels": {"$patch": "explode"}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "explode"}]}}}},
])
def test_unknown_patch_directive_is_400(patch: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)


def test_retain_keys_clears_fields_not_listed() -> None:
    out = apply_strategic_merge_patch(deployment(), {"spec": {"strategy": {
        "$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    volume = apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"volumes": [
        {"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}}}}, DEPLOYMENT)
    assert volume["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/x"}}]


@pytest.mark.parametrize("strategy", [
    {"$retainKeys": "type", "type": "Recreate"},
    {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
])
def test_malformed_retain_keys_is_400(strategy: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(deployment(), {"spec": {"strategy": strategy}}, DEPLOYMENT)


def test_set_element_order_reorders_and_keeps_server_only_items_in_place() -> None:
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": n} for n in ["1", "2", "7", "9", "8", "3", "4"]]}}}}
    out = apply_strategic_merge_patch(live, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]}}}},
        DEPLOYMENT)
    assert names(containers(out)) == ["2", "1", "7", "9", "8", "4", "3"]


def test_set_element_order_places_new_items() -> None:
    live = {"spec": {"template": {"spec": {"containers": [{"name": "1", "o": "a"}, {"name": "2"}]}}}}
    out = apply_strategic_merge_patch(live, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}],
        "containers": [{"name": "3", "image": "i"}]}}}}, DEPLOYMENT)
    assert containers(out) == [{"name": "1", "o": "a"}, {"name": "3", "image": "i"}, {"name": "2"}]


def test_set_element_order_for_a_primitive_list() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    out = apply_strategic_merge_patch(live, {"metadata": {
        "$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}}, DEPLOYMENT)
    assert out["metadata"]["finalizers"] == ["c", "b", "a"]


def test_set_element_order_that_contradicts_the_patch_is_400() -> None:
    live = {"spec": {"template": {"spec": {"containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}}}}
    with pytest.raises(BadRequest, match="doesn't match"):
        apply_strategic_merge_patch(live, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
            "containers": [{"name": "3", "v": 3}, {"name": "1", "v": 1}]}}}}, DEPLOYMENT)
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(live, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": {"name": "1"}}}}}, DEPLOYMENT)


def test_merge_list_items_need_their_merge_key() -> None:
    with pytest.raises(BadRequest, match="merge key"):
        apply_strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {
            "containers": [{"image": "no-name"}]}}}}, DEPLOYMENT)


def test_lists_of_lists_are_422() -> None:
    with pytest.raises(Invalid):
        apply_strategic_merge_patch({"metadata": {"finalizers": ["a"]}},
                                    {"metadata": {"finalizers": [["b"]]}}, DEPLOYMENT)


def test_without_a_schema_it_behaves_like_merge_patch() -> None:
    live = {"spec": {"items": [{"name": "a", "v": 1}], "m": {"a": 1}}}
    out = apply_strategic_merge_patch(live, {"spec": {"items": [{"name": "b"}], "m": {"b": 2}}}, None)
    assert out == {"spec": {"items": [{"name": "b"}], "m": {"a": 1, "b": 2}}}


@pytest.mark.parametrize("patch", [None, [], "x"])
def test_a_patch_that_is_not_an_object_is_400(patch: Any) -> None:
    with pytest.raises(BadRequest):
        apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)


def test_inputs_are_not_mutated() -> None:
    live = deployment()
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                                            "containers": [{"name": "web", "env": [{"name": "Z", "value": "z"}]}]}}}}
    before = copy.deepcopy(patch)
    out = apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    assert names(containers(out)) == ["sidecar", "web"]
    containers(out)[1]["env"].append({"name": "mutated"})
    assert live == deployment() and patch == before


_keys = st.sampled_from(["name", "image", "$patch", "$retainKeys", "$setElementOrder/containers",
                         "$setElementOrder/env", "$deleteFromPrimitiveList/args", "env", "ports",
                         "containerPort", "value", "args", "x"])
_values = st.recursive(
    st.none() | st.booleans() | st.integers(0, 3) | st.sampled_from(["web", "sidecar", "replace", "delete", "merge"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([("metadata",), ("spec", "strategy"), ("spec", "template", "spec"),
                        ("spec", "template", "spec", "containers")]), _values)
def test_any_patch_either_applies_or_raises_an_api_error(where: tuple[str, ...], value: Any) -> None:
    patch: dict[str, Any] = {}
    node = patch
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = value
    live = deployment()
    try:
        out = apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    except ApiError as exc:
        assert exc.code in (400, 422)
    else:
        assert isinstance(out, dict)
    assert live == deployment()


def test_patch_delete_on_a_value_that_is_not_a_map_drops_the_key() -> None:
    out = apply_strategic_merge_patch(deployment(), {"metadata": {"finalizers": {"$patch": "delete"}}}, DEPLOYMENT)
    assert "finalizers" not in out["metadata"]
