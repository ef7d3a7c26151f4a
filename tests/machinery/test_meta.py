"""Object helpers: time formats, keys, ownership, conditions, copying and pod state."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest

from machinery import meta
from machinery.meta import (
    annotations,
    deepcopy_json,
    format_micro_time,
    format_time,
    get_condition,
    get_controller_of,
    is_being_deleted,
    is_owned_by,
    labels,
    namespaced_name,
    now_micro,
    now_rfc3339,
    owner_reference,
    parse_time,
    pod_is_active,
    pod_is_available,
    pod_is_ready,
    pod_is_terminal,
    set_condition,
    split_key,
)

UTC = timezone.utc
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_exported_members() -> None:
    for name in meta.__all__:
        assert hasattr(meta, name), name


def test_time_formats() -> None:
    assert format_time(T0) == "2026-01-02T03:04:05Z"
    assert format_micro_time(T0) == "2026-01-02T03:04:05.678901Z"
    assert format_time(T0.astimezone(timezone(timedelta(hours=2)))) == "2026-01-02T03:04:05Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now_micro())
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 1, 1))
    # Go's zero time (Docker's "no reading") keeps four year digits, as Go writes it.
    zero = datetime(1, 1, 1, tzinfo=timezone.utc)
    assert (format_time(zero), format_micro_time(zero)) == \
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z")
    assert parse_time(format_time(zero)) == zero


def test_now_is_current() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    assert before <= parse_time(now_rfc3339()) <= datetime.now(UTC)
    assert abs(parse_time(now_micro()) - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize("text,expected", [
    ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.678901Z", T0),
    ("2026-01-02T03:04:05.678901234Z", T0),  # Go's RFC3339Nano
    ("2026-01-02T03:04:05.5Z", datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
    ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-01T23:04:05-04:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02t03:04:05z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
])
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("bad", ["", "2026-01-02", "2026-01-02T03:04:05", "yesterday",
                                 "2026-13-02T03:04:05Z", None])
def test_parse_time_rejects(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_time(bad)


def test_time_round_trip() -> None:
    assert parse_time(format_micro_time(T0)) == T0
    assert parse_time(format_time(T0)) == T0.replace(microsecond=0)


def test_keys() -> None:
    assert namespaced_name({"metadata": {"namespace": "ns", "name": "a"}}) == "ns/a"
    assert namespaced_name({"metadata": {"name": "node1"}}) == "node1"
    assert namespaced_name({"metadata": {"namespace": "", "name": "node1"}}) == "node1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node1") == (None, "node1")
    assert split_key("/a") == (None, "a")
    with pytest.raises(ValueError, match="unexpected key format"):
        split_key("a/b/c")


def _rs(uid: str = "rs-uid") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "d", "uid": uid}}


def test_ownership() -> None:
    ref = owner_reference(_rs())
    assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-uid",
                   "controller": True, "blockOwnerDeletion": True}
    plain = owner_reference(_rs("other"), controller=False, block_owner_deletion=False)
    pod = {"metadata": {"ownerReferences": [plain, ref]}}
    assert get_controller_of(pod) == ref
    assert is_owned_by(pod, "rs-uid")
    assert is_owned_by(pod, "other")
    assert not is_owned_by(pod, "nope")
    orphan: dict[str, Any] = {"metadata": {"ownerReferences": [plain]}}
    assert get_controller_of(orphan) is None
    assert get_controller_of({}) is None
    assert not is_owned_by({"metadata": {}}, "rs-uid")


def test_labels_and_annotations() -> None:
    obj = {"metadata": {"labels": {"a": "1"}, "annotations": {"n": "x"}}}
    assert labels(obj) is obj["metadata"]["labels"]
    assert annotations(obj) == {"n": "x"}
    assert labels({}) == {} and annotations({"metadata": {"annotations": None}}) == {}


def test_is_being_deleted() -> None:
    assert is_being_deleted({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
    assert not is_being_deleted({"metadata": {}})
    assert not is_being_deleted({})


def test_set_condition_adds_new() -> None:
    conds: list[dict[str, Any]] = []
    assert set_condition(conds, {"type": "Ready", "status": "False", "reason": "Init"}, "T1")
    assert conds == [{"type": "Ready", "status": "False", "reason": "Init", "lastTransitionTime": "T1"}]
    assert set_condition(conds, {"type": "Other", "status": "True", "lastTransitionTime": "T0"}, "T1")
    assert get_condition(conds, "Other")["lastTransitionTime"] == "T0"  # type: ignore[index]


def test_set_condition_transition_time_moves_only_on_status_change() -> None:
    conds = [{"type": "Ready", "status": "False", "reason": "Init", "lastTransitionTime": "T1"}]
    assert not set_condition(conds, {"type": "Ready", "status": "False", "reason": "Init"}, "T2")
    assert set_condition(conds, {"type": "Ready", "status": "False", "reason": "Waiting", "message": "m"}, "T2")
    assert conds[0] == {"type": "Ready", "status": "False", "reason": "Waiting", "message": "m",
                        "lastTransitionTime": "T1"}
    assert set_condition(conds, {"type": "Ready", "status": "True", "reason": "Up"}, "T3")
    assert conds[0]["lastTransitionTime"] == "T3"
    assert conds[0]["status"] == "True"
    # a caller-supplied time is ignored unless the status flips
    assert not set_condition(conds, {"type": "Ready", "status": "True", "reason": "Up",
                                     "message": "m", "lastTransitionTime": "T9"}, "T4")
    assert conds[0]["lastTransitionTime"] == "T3"
    assert len(conds) == 1


def test_get_condition() -> None:
    conds = [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]
    assert get_condition(conds, "B") is conds[1]
    assert get_condition(conds, "C") is None
    assert get_condition(None, "A") is None


class _Color(StrEnum):
    RED = "red"


@pytest.mark.parametrize("tree", [
    {"a": [1, 2.5, {"b": None, "c": True}], "d": "x", "e": {}},
    {"big": 2**70, "nested": [{"n": -(2**80)}]},
    {"when": datetime(2026, 1, 1, tzinfo=UTC), "l": [{"x": 1}]},
    {1: "int key", "l": [[]]},
    {"enum": _Color.RED, "l": [{"x": [1]}]},
    [{"a": 1}, [2, [3]]],
    "scalar",
])
def test_deepcopy_json_is_deep_and_equal(tree: Any) -> None:
    copied = deepcopy_json(tree)
    assert copied == tree
    assert type(copied) is type(tree)
    if isinstance(tree, (dict, list)):
        assert copied is not tree
        _assert_no_shared_containers(tree, copied)


def _assert_no_shared_containers(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a is not b
        for k in a:
            _assert_no_shared_containers(a[k], b[k])
    elif isinstance(a, list):
        assert a is not b
        for x, y in zip(a, b):
            _assert_no_shared_containers(x, y)


def test_deepcopy_json_keeps_leaf_types() -> None:
    tree = {"when": datetime(2026, 1, 1, tzinfo=UTC), "color": _Color.RED, "big": 2**70}
    copied = deepcopy_json(tree)
    assert isinstance(copied["when"], datetime)
    assert copied["color"] is _Color.RED
    assert copied["big"] == 2**70


def test_deepcopy_json_edit_does_not_leak() -> None:
    pod = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c"}]}}
    copied = deepcopy_json(pod)
    copied["metadata"]["labels"]["a"] = "2"
    copied["spec"]["containers"].append({"name": "d"})
    assert pod == {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c"}]}}
    assert copied == copy.deepcopy(copied)


def _pod(phase: str = "Running", ready: str | None = "True", since: str | None = "2026-01-02T03:04:00Z",
         deleting: bool = False) -> dict[str, Any]:
    conds = []
    if ready is not None:
        cond = {"type": "Ready", "status": ready}
        if since:
            cond["lastTransitionTime"] = since
        conds.append(cond)
    metadata = {"deletionTimestamp": "2026-01-02T03:04:05Z"} if deleting else {}
    return {"metadata": metadata, "status": {"phase": phase, "conditions": conds}}


def test_pod_ready_and_terminal() -> None:
    assert pod_is_ready(_pod())
    assert not pod_is_ready(_pod(ready="False"))
    assert not pod_is_ready(_pod(ready=None))
    assert not pod_is_ready({})
    assert pod_is_terminal(_pod("Succeeded"))
    assert pod_is_terminal(_pod("Failed"))
    assert not pod_is_terminal(_pod("Running"))
    assert not pod_is_terminal({})
    assert pod_is_active(_pod("Pending"))
    assert not pod_is_active(_pod("Failed"))
    assert not pod_is_active(_pod(deleting=True))


def test_pod_is_available() -> None:
    now = datetime(2026, 1, 2, 3, 4, 10, tzinfo=UTC)  # Ready since 10 s
    assert pod_is_available(_pod(), 0, now)
    assert pod_is_available(_pod(), 9, now)
    assert not pod_is_available(_pod(), 10, now)  # strictly longer than minReadySeconds
    assert not pod_is_available(_pod(), 30, now)
    assert not pod_is_available(_pod(ready="False"), 0, now)
    assert not pod_is_available(_pod(since=None), 5, now)
    assert pod_is_available(_pod(since=None), 0, now)
