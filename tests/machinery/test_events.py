"""EventRecorder: fire-and-forget core/v1 Events with count aggregation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from machinery import errors
from machinery.events import NORMAL, WARNING, EventBroadcaster, EventSink, object_reference

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "team", "uid": "u1", "resourceVersion": "7"}}


class RecordingSink(EventSink):
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_patch: errors.ApiError | None = None
        self.fail_create: list[errors.ApiError] = []

    async def create(self, namespace: str, event: dict[str, Any]) -> None:
        if self.fail_create:
            raise self.fail_create.pop(0)
        self.created.append(event)

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        if self.fail_patch is not None:
            raise self.fail_patch
        self.patched.append((namespace, name, patch))


def broadcaster(sink: RecordingSink) -> EventBroadcaster:
    times = iter(datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)
                 for i in range(1000))
    return EventBroadcaster(sink, wall=lambda: next(times), retry_delay=0)


async def test_event_object_shape() -> None:
    sink = RecordingSink()
    b = broadcaster(sink)
    b.recorder("kubelet", "node-1").event(POD, WARNING, "BackOff", "Back-off restarting",
                                          field_path="spec.containers{c}")
    await b.stop()

    [event] = sink.created
    assert event["metadata"]["namespace"] == "team"
    assert event["metadata"]["name"].startswith("web-1.")
    assert event["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "namespace": "team",
                                       "name": "web-1", "uid": "u1", "resourceVersion": "7",
                                       "fieldPath": "spec.containers{c}"}
    assert (event["type"], event["reason"], event["message"], event["count"]) == \
        ("Warning", "BackOff", "Back-off restarting", 1)
    assert event["source"] == {"component": "kubelet", "host": "node-1"}
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2024-01-01T00:00:00Z"


async def test_repeats_bump_count_and_last_timestamp() -> None:
    sink = RecordingSink()
    b = broadcaster(sink)
    rec = b.recorder("scheduler")
    for _ in range(3):
        rec.event(POD, WARNING, "FailedScheduling", "0/2 nodes are available")
    rec.event(POD, WARNING, "FailedScheduling", "another message")
    await b.stop()

    assert len(sink.created) == 2
    name = sink.created[0]["metadata"]["name"]
    assert sink.patched == [
        ("team", name, {"count": 2, "lastTimestamp": "2024-01-01T00:00:01Z"}),
        ("team", name, {"count": 3, "lastTimestamp": "2024-01-01T00:00:02Z"}),
    ]


async def test_a_vanished_event_is_created_again() -> None:
    sink = RecordingSink()
    b = broadcaster(sink)
    rec = b.recorder("c")
    rec.event(POD, NORMAL, "Pulled", "ok")
    await b.flush()
    sink.fail_patch = errors.NotFound("gone")
    rec.event(POD, NORMAL, "Pulled", "ok")
    await b.stop()
    assert len(sink.created) == 2 and sink.created[1]["count"] == 1


async def test_transient_errors_are_retried_and_invalid_ones_dropped() -> None:
    sink = RecordingSink()
    b = broadcaster(sink)
    rec = b.recorder("c")
    sink.fail_create = [errors.ServiceUnavailable("busy"), errors.ServiceUnavailable("busy")]
    rec.event(POD, NORMAL, "A", "first")   # fails twice, then is written
    await b.flush()
    sink.fail_create = [errors.Invalid("bad")]
    rec.event(POD, NORMAL, "B", "second")  # invalid: dropped at once
    rec.event(POD, NORMAL, "C", "third")
    await b.stop()
    assert [e["reason"] for e in sink.created] == ["A", "C"]


async def test_cluster_scoped_objects_record_into_default() -> None:
    sink = RecordingSink()
    b = broadcaster(sink)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n"}}
    b.recorder("node-controller").event(node, NORMAL, "RegisteredNode", "Node n1 event")
    await b.stop()
    assert sink.created[0]["metadata"]["namespace"] == "default"
    assert "namespace" not in object_reference(node)


async def test_unknown_event_type_is_a_programming_error() -> None:
    b = broadcaster(RecordingSink())
    with pytest.raises(ValueError):
        b.recorder("c").event(POD, "Info", "X", "y")
