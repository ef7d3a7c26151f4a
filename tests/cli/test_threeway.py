"""Client-side apply's three-way patch, checked against kubectl's shape and the server's merge."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from apiserver import schema
from apiserver.patch import apply_strategic_merge_patch
from cli.apply import LAST_APPLIED, last_applied
from cli.threeway import shape_for, three_way_patch

DEPLOY = shape_for("apps/v1", "Deployment")
DEPLOY_SCHEMA = schema.kind_schema("apps", "v1", "Deployment")


def manifest(image: str = "nginx:1.25", **spec_extra: Any) -> dict[str, Any]:
    containers = [{"name": "web", "image": image, "ports": [{"containerPort": 80}],
                   "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": containers}}, **spec_extra}}


def live_from(applied: dict[str, Any]) -> dict[str, Any]:
    """What the server holds after creating ``applied``: plus defaults and fields of others."""
    live = copy.deepcopy(applied)
    live["metadata"].update(uid="u1", resourceVersion="7", generation=1)
    live["spec"]["strategy"] = {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "IfNotPresent"
    container["ports"][0]["protocol"] = "TCP"
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    live["status"] = {"replicas": 2}
    return live


def apply_twice(first: dict[str, Any], second: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(patch, result) of applying ``second`` over the live object that ``first`` created."""
    created, _ = last_applied(first)
    live = live_from(created)
    original = orjson.loads(live["metadata"]["annotations"][LAST_APPLIED])
    modified, _ = last_applied(second)
    patch = three_way_patch(original, modified, live, DEPLOY)
    return patch, apply_strategic_merge_patch(live, patch, DEPLOY_SCHEMA)


def test_annotation_holds_the_manifest_as_kubectl_writes_it() -> None:
    modified, value = last_applied(manifest())
    assert value.startswith('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},')
    assert value.endswith("}\n")
    assert modified["metadata"]["annotations"] == {LAST_APPLIED: value}


def test_same_manifest_gives_an_empty_patch() -> None:
    patch, _ = apply_twice(manifest(), manifest())
    assert patch == {}


def test_image_change_is_a_keyed_container_patch() -> None:
    patch, result = apply_twice(manifest(), manifest("nginx:1.26"))
    assert patch["spec"] == {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:1.26"}]}}}
    assert set(patch["metadata"]) == {"annotations"}
    container = result["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.26"
    assert container["imagePullPolicy"] == "IfNotPresent"  # server default survives
    assert result["status"] == {"replicas": 2}


def test_fields_removed_from_the_manifest_are_deleted() -> None:
    second = manifest()
    del second["spec"]["replicas"]
    del second["metadata"]["labels"]
    second["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "B", "value": "2"}]
    patch, result = apply_twice(manifest(), second)
    assert patch["spec"]["replicas"] is None
    assert patch["metadata"]["labels"] is None
    env_patch = patch["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "A", "$patch": "delete"} in env_patch["env"]
    assert "replicas" not in result["spec"]
    assert "labels" not in result["metadata"]
    assert result["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert result["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


def test_removed_list_item_and_added_one() -> None:
    second = manifest()
    second["spec"]["template"]["spec"]["containers"] = [{"name": "side", "image": "busybox"}]
    patch, result = apply_twice(manifest(), second)
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert {"name": "web", "$patch": "delete"} in containers
    assert {"name": "side", "image": "busybox"} in containers
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["side"]


def test_fields_set_by_others_are_kept() -> None:
    created, _ = last_applied(manifest())
    live = live_from(created)
    live["metadata"]["labels"]["team"] = "x"  # added with `label`, never in a manifest
    original = orjson.loads(live["metadata"]["annotations"][LAST_APPLIED])
    modified, _ = last_applied(manifest("nginx:2"))
    patch = three_way_patch(original, modified, live, DEPLOY)
    result = apply_strategic_merge_patch(live, patch, DEPLOY_SCHEMA)
    assert result["metadata"]["labels"] == {"app": "web", "team": "x"}


def test_retain_keys_clears_the_other_strategy_fields() -> None:
    second = manifest(strategy={"type": "Recreate"})
    patch, result = apply_twice(manifest(), second)
    assert patch["spec"]["strategy"]["$retainKeys"] == ["type"]
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_primitive_merge_lists_use_delete_directives() -> None:
    shape = shape_for("v1", "Pod")
    original = {"metadata": {"finalizers": ["a", "b"]}}
    modified = {"metadata": {"finalizers": ["a", "c"]}}
    current = {"metadata": {"finalizers": ["a", "b", "z"]}}
    patch = three_way_patch(original, modified, current, shape)
    assert patch["metadata"]["$deleteFromPrimitiveList/finalizers"] == ["b"]
    assert patch["metadata"]["finalizers"] == ["c"]


def test_without_schema_lists_are_replaced_whole() -> None:
    original = {"spec": {"items": [{"name": "a", "v": 1}], "drop": 1}}
    modified = {"spec": {"items": [{"name": "a", "v": 2}]}}
    current = {"spec": {"items": [{"name": "a", "v": 1}], "drop": 1, "server": True}}
    assert three_way_patch(original, modified, current, None) == {
        "spec": {"items": [{"name": "a", "v": 2}], "drop": None}}


def test_no_last_applied_only_adds_and_changes() -> None:
    current = {"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "old", "other": "y"}}
    modified = {"metadata": {"name": "x"}, "data": {"k": "new"}}
    assert three_way_patch(None, modified, current, shape_for("v1", "ConfigMap")) == {
        "data": {"k": "new"}}
