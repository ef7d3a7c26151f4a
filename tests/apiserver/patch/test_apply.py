"""Server-side apply and managedFields bookkeeping, checked against Kubernetes' wire format."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.patch import server_side_apply, update_managed_fields
from apiserver.patch.fieldpath import from_fields_v1
from apiserver.schema import kind_schema
from machinery.errors import BadRequest, Conflict, Invalid

DEPLOYMENT = kind_schema("apps", "v1", "Deployment")
T0, T1, T2, T3 = (f"2024-05-01T10:00:0{i}Z" for i in range(4))
WEB = 'k:{"name":"web"}'


def config(**spec: Any) -> dict[str, Any]:
    """What ``kubectl apply --server-side`` sends for a small Deployment."""
    body = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
        },
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "spec": body}


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the registry keeps it: with server-set metadata."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="5", generation=1, creationTimestamp=T0)
    return out


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str) -> set[tuple[str, ...]]:
    return from_fields_v1(entries(obj)[manager, operation]["fieldsV1"])


def apply(live: dict[str, Any] | None, cfg: dict[str, Any], manager: str = "kubectl", *,
          force: bool = False, now: str = T1) -> dict[str, Any]:
    return server_side_apply(live, cfg, manager=manager, force=force, schema=DEPLOYMENT, now=now)


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = T1,
           **kw: Any) -> dict[str, Any]:
    update_managed_fields(old, new, manager=manager, schema=DEPLOYMENT, now=now, **kw)
    return new


# -- apply ---------------------------------------------------------------------


def test_apply_creates_the_object_with_kubernetes_fields_v1() -> None:
    out = apply(None, config())
    managed = out["metadata"].pop("managedFields")
    assert out == config()
    assert managed == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {WEB: {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                    }}},
                },
            },
        },
    }]


def test_reapplying_the_same_config_changes_nothing() -> None:
    first = stored(apply(None, config()))
    again = apply(first, config(), now=T2)
    assert again == first


def test_fields_dropped_from_the_config_are_removed() -> None:
    live = stored(apply(None, config(minReadySeconds=5)))
    cfg = config()
    del cfg["metadata"]["labels"]
    out = apply(live, cfg, now=T2)
    assert "minReadySeconds" not in out["spec"]
    assert "labels" not in out["metadata"]
    assert out["metadata"]["name"] == "web" and out["metadata"]["uid"] == "u-1"
    assert entries(out)["kubectl", "Apply"]["time"] == T2


def test_a_dropped_field_survives_while_another_applier_owns_it() -> None:
    live = stored(apply(None, config(minReadySeconds=5), "a"))
    live = apply(live, config(minReadySeconds=5), "b", now=T2)
    assert ("f:spec", "f:minReadySeconds") in owned(live, "a", "Apply") & owned(live, "b", "Apply")
    live = apply(live, config(), "a", now=T3)
    assert live["spec"]["minReadySeconds"] == 5
    live = apply(live, config(), "b", now=T3)
    assert "minReadySeconds" not in live["spec"]


def test_conflict_with_an_update_manager_is_409_with_kubernetes_message() -> None:
    live = stored(update(None, config(), "kubectl-client-side-apply", T0))
    cfg = config(replicas=5)
    with pytest.raises(Conflict) as err:
        apply(live, cfg)
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas')
    assert err.value.causes == [{"reason": "FieldManagerConflict",
                                 "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                 "field": ".spec.replicas"}]


def test_several_conflicts_are_listed_per_manager() -> None:
    live = stored(update(None, config(), "kubectl-client-side-apply", T0))
    cfg = config(replicas=5)
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    with pytest.raises(Conflict) as err:
        apply(live, cfg)
    assert err.value.message == (
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n"
        "- .spec.replicas\n"
        "- .spec.template.spec.containers[name=\"web\"].image")
    assert [c["field"] for c in err.value.causes] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image']


def test_conflict_with_another_applier_names_it_without_version() -> None:
    live = stored(apply(None, config(), "a"))
    with pytest.raises(Conflict, match='conflict with "a": .spec.replicas'):
        apply(live, config(replicas=9), "b")


def test_force_takes_the_field_over() -> None:
    live = stored(update(None, config(), "kubectl-client-side-apply", T0))
    out = apply(live, config(replicas=5), force=True)
    assert out["spec"]["replicas"] == 5
    assert ("f:spec", "f:replicas") not in owned(out, "kubectl-client-side-apply", "Update")
    assert ("f:spec", "f:replicas") in owned(out, "kubectl", "Apply")
    assert ("f:spec", "f:selector") in owned(out, "kubectl-client-side-apply", "Update")


def test_applying_the_live_value_shares_ownership_without_conflict() -> None:
    live = stored(update(None, config(), "creator", T0))
    out = apply(live, config())
    assert ("f:spec", "f:replicas") in owned(out, "creator", "Update") & owned(out, "kubectl", "Apply")


def test_associative_lists_merge_by_key_and_keep_other_managers_items() -> None:
    live = stored(apply(None, config()))
    added = copy.deepcopy(live)
    added["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = update(live, added, "injector", T2)
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    out = apply(live, cfg, now=T3)
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "busybox"}]
    cfg["spec"]["template"]["spec"]["containers"].insert(0, {"name": "init", "image": "x"})
    out = apply(out, cfg, now=T3)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["init", "web", "sidecar"]


def test_sets_merge_by_value() -> None:
    live = stored(apply(None, config()))
    live["metadata"]["finalizers"] = ["x.example.com"]
    cfg = config()
    cfg["metadata"]["finalizers"] = ["y.example.com"]
    out = apply(live, cfg)
    assert out["metadata"]["finalizers"] == ["x.example.com", "y.example.com"]
    assert ("f:metadata", "f:finalizers", 'v:"y.example.com"') in owned(out, "kubectl", "Apply")


def test_atomic_lists_and_maps_are_replaced_whole() -> None:
    base = config()
    base["spec"]["selector"]["matchLabels"]["extra"] = "1"
    base["spec"]["template"]["spec"]["containers"][0]["args"] = ["a", "b"]
    live = stored(apply(None, base))
    out = apply(live, config(), now=T2)
    assert out["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["args"] = ["c"]
    out = apply(out, cfg, now=T2)
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]


def test_null_in_the_config_removes_the_value() -> None:
    live = stored(apply(None, config(minReadySeconds=3)))
    out = apply(live, config(minReadySeconds=None), now=T2)
    assert "minReadySeconds" not in out["spec"]


def test_objects_without_managed_fields_belong_to_before_first_apply() -> None:
    live = stored(config())
    with pytest.raises(Conflict, match='"before-first-apply" using apps/v1: .spec.replicas'):
        apply(live, config(replicas=3))
    out = apply(live, config())
    assert ("f:spec", "f:replicas") in owned(out, "before-first-apply", "Update")


def test_status_is_not_tracked_by_apply() -> None:
    live = stored(apply(None, config()))
    live["status"] = {"replicas": 2}
    cfg = config()
    cfg["status"] = {"replicas": 7}
    out = apply(live, cfg)
    assert not any(p[0] == "f:status" for p in owned(out, "kubectl", "Apply"))


@pytest.mark.parametrize("containers", [
    [{"name": "web"}, {"name": "web", "image": "x"}],
    [{"image": "no-name"}],
    ["web"],
])
def test_unmergeable_lists_in_the_config_are_422(containers: list[Any]) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"] = containers
    with pytest.raises(Invalid, match="spec.template.spec.containers"):
        apply(None, cfg)


@pytest.mark.parametrize("cfg", [
    None, [], {"metadata": {"name": "x", "managedFields": [{"manager": "m"}]}}, {"metadata": "x"}])
def test_malformed_configs_are_400(cfg: Any) -> None:
    with pytest.raises(BadRequest):
        apply(None, cfg)


# -- update_managed_fields -------------------------------------------------------


def test_create_records_every_set_field_except_system_ones() -> None:
    obj = stored(config())
    obj["status"] = {"replicas": 0}
    update(None, obj, "kubectl-create", T0)
    (entry,) = obj["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1"}
    paths = from_fields_v1(entry["fieldsV1"])
    assert ("f:spec", "f:replicas") in paths
    assert ("f:spec", "f:template", "f:spec", "f:containers", WEB, "f:image") in paths
    assert not any(p[0] in ("f:status", "f:apiVersion", "f:kind") for p in paths)
    assert not any(p[:2] in {("f:metadata", f"f:{f}") for f in ("name", "namespace", "uid", "resourceVersion",
                                                                 "generation", "creationTimestamp")} for p in paths)
    assert "." not in entry["fieldsV1"]["f:spec"] and "." not in entry["fieldsV1"]["f:metadata"]


def test_update_moves_changed_fields_to_the_writer() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    update(old, new, "kubectl-set", T2)
    image = ("f:spec", "f:template", "f:spec", "f:containers", WEB, "f:image")
    assert owned(new, "kubectl-set", "Update") == {image}
    assert image not in owned(new, "creator", "Update")
    assert entries(new)["creator", "Update"]["time"] == T0
    assert entries(new)["kubectl-set", "Update"]["time"] == T2


def test_removals_leave_every_set_and_record_no_new_manager() -> None:
    old = update(None, stored(config(minReadySeconds=1)), "creator", T0)
    new = copy.deepcopy(old)
    del new["spec"]["minReadySeconds"]
    update(old, new, "remover", T2)
    assert set(entries(new)) == {("creator", "Update")}
    assert ("f:spec", "f:minReadySeconds") not in owned(new, "creator", "Update")


def test_noop_update_keeps_managed_fields_as_they_were() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    update(old, new, "other", T2)
    assert new == old
    del new["metadata"]["managedFields"]
    update(old, new, "other", T2)
    assert new == old


def test_managers_left_with_nothing_are_dropped() -> None:
    old = update(None, stored(config()), "creator", T0)
    mid = copy.deepcopy(old)
    mid["spec"]["replicas"] = 3
    update(old, mid, "scaler-1", T1)
    last = copy.deepcopy(mid)
    last["spec"]["replicas"] = 4
    update(mid, last, "scaler-2", T2)
    assert set(entries(last)) == {("creator", "Update"), ("scaler-2", "Update")}


def test_entries_merge_per_manager_and_are_sorted_like_kubernetes() -> None:
    obj = stored(apply(None, config(), "applier", now=T0))
    new = copy.deepcopy(obj)
    new["spec"]["paused"] = True
    update(obj, new, "z-updater", T1)
    newer = copy.deepcopy(new)
    newer["spec"]["minReadySeconds"] = 4
    update(new, newer, "z-updater", T2)
    newest = copy.deepcopy(newer)
    newest["spec"]["revisionHistoryLimit"] = 3
    update(newer, newest, "a-updater", T3)
    order = [(e["manager"], e["operation"]) for e in newest["metadata"]["managedFields"]]
    assert order == [("applier", "Apply"), ("z-updater", "Update"), ("a-updater", "Update")]
    assert owned(newest, "z-updater", "Update") == {("f:spec", "f:paused"), ("f:spec", "f:minReadySeconds")}


def test_status_subresource_tracks_only_status_and_keeps_server_managed_fields() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    new["spec"]["replicas"] = 9
    new["metadata"]["managedFields"] = [{"manager": "forged", "operation": "Update", "fieldsV1": {"f:x": {}}}]
    update(old, new, "controller", T2, subresource="status")
    entry = entries(new)["controller", "Update"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:conditions": {
        ".": {}, 'k:{"type":"Available"}': {".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}}
    assert ("forged", "Update") not in entries(new)


def test_main_resource_updates_ignore_status() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2}
    update(old, new, "other", T2)
    assert set(entries(new)) == {("creator", "Update")}


def test_client_may_reset_managed_fields_with_a_single_empty_entry() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = [{}]
    update(old, new, "resetter", T2)
    assert "managedFields" not in new["metadata"]
    new["metadata"]["managedFields"] = [{}]
    new["spec"]["replicas"] = 7
    update(old, new, "resetter", T2)
    assert set(entries(new)) == {("resetter", "Update")}


def test_malformed_managed_fields_from_the_client_fall_back_to_the_stored_ones() -> None:
    old = update(None, stored(config()), "creator", T0)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["metadata"]["managedFields"] = [{"manager": "m", "operation": "Explode"}]
    update(old, new, "scaler", T2)
    assert set(entries(new)) == {("creator", "Update"), ("scaler", "Update")}


def test_update_managers_beyond_ten_fold_into_ancient_changes() -> None:
    obj = update(None, stored(config()), "creator", "2024-05-01T09:00:00Z")
    for i in range(12):
        new = copy.deepcopy(obj)
        new["metadata"]["labels"][f"l{i}"] = "v"
        update(obj, new, f"m{i:02d}", f"2024-05-01T10:00:{i:02d}Z")
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers
    assert "creator" not in managers and "m00" not in managers and "m11" in managers
    ancient = owned(obj, "ancient-changes", "Update")
    assert ("f:spec", "f:replicas") in ancient and ("f:metadata", "f:labels", "f:l0") in ancient


def test_a_deployment_update_costs_well_under_a_millisecond_or_two() -> None:
    old = update(None, stored(config()), "creator", T0)
    old = apply(old, config(), "kubectl", now=T1)
    changed = copy.deepcopy(old)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    candidates = [copy.deepcopy(changed) for _ in range(200)]
    start = time.perf_counter()
    for new in candidates:
        update_managed_fields(old, new, manager="kubectl-set", schema=DEPLOYMENT, now=T2)
    assert (time.perf_counter() - start) / len(candidates) < 0.002


_managers = st.sampled_from(["a", "b", "c"])
_edits = st.lists(st.tuples(_managers, st.sampled_from(["replicas", "label", "image", "drop-label"]),
                            st.integers(0, 3)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(_edits)
def test_update_ownership_stays_exclusive(edits: list[tuple[str, str, int]]) -> None:
    obj = update(None, stored(config()), "creator", T0)
    for step, (manager, what, n) in enumerate(edits):
        new = copy.deepcopy(obj)
        if what == "replicas":
            new["spec"]["replicas"] = n
        elif what == "label":
            new["metadata"]["labels"][f"k{n}"] = manager
        elif what == "image":
            new["spec"]["template"]["spec"]["containers"][0]["image"] = f"img:{n}"
        else:
            new["metadata"]["labels"].pop(f"k{n}", None)
        update(obj, new, manager, f"2024-05-01T11:00:{step:02d}Z")
        obj = new
    sets = [from_fields_v1(e["fieldsV1"]) for e in obj["metadata"]["managedFields"]]
    for i, first in enumerate(sets):
        assert first, "empty entries are dropped"
        for second in sets[i + 1:]:
            assert not first & second


_config_values = st.recursive(
    st.none() | st.integers(0, 3) | st.sampled_from(["web", "x", "TCP"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "image", "containerPort", "protocol", "ports", "args", "app"]), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["replicas", "selector", "template", "strategy", "minReadySeconds"]), _config_values,
       st.booleans())
def test_any_config_either_applies_or_raises_an_api_error(field: str, value: Any, force: bool) -> None:
    live = stored(apply(None, config(), "a", now=T0))
    cfg = config()
    cfg["spec"][field] = value
    try:
        out = apply(live, cfg, "b", force=force)
    except (BadRequest, Invalid, Conflict):
        return
    assert entries(out)["b", "Apply"]["fieldsType"] == "FieldsV1"
    update_managed_fields(live, copy.deepcopy(out), manager="c", schema=DEPLOYMENT, now=T2)
