"""core/v1 Events, written the way client-go's record package writes them.

Controllers, the scheduler and kubelets tell users what they did through
Events (``kubectl describe`` lists them).  Recording must never slow down or
fail the caller, so ``EventRecorder.event`` only queues: one background
writer per process (the ``EventBroadcaster``) sends them, retries a few
times, and drops what it cannot deliver, as client-go does.

The writer also aggregates: an event identical to one it already wrote (same
source, involved object, type, reason and message) does not create a second
object but bumps ``count`` and ``lastTimestamp`` of the first, so a crash-looping
pod makes one Event with count 50 rather than fifty Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.meta import format_time

__all__ = [
    "NORMAL",
    "WARNING",
    "EventBroadcaster",
    "EventRecorder",
    "EventSink",
    "object_reference",
]

NORMAL = "Normal"
WARNING = "Warning"

log = logging.getLogger(__name__)

_CACHE_SIZE = 4096
_QUEUE_SIZE = 1000
_ATTEMPTS = 3


def object_reference(obj: Mapping[str, Any], field_path: str | None = None) -> dict[str, Any]:
    """The ``involvedObject`` for ``obj`` (kind and apiVersion must be on the object)."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", "")}
    for src, dst in (("namespace", "namespace"), ("name", "name"), ("uid", "uid"),
                     ("resourceVersion", "resourceVersion")):
        if meta.get(src):
            ref[dst] = meta[src]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


@dataclass
class _Pending:
    ref: dict[str, Any]
    type: str
    reason: str
    message: str
    component: str
    host: str
    when: datetime


@dataclass
class _Written:
    namespace: str
    name: str
    count: int


class EventSink:
    """Where events go; the API by default, replaceable in tests of components."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def create(self, namespace: str, event: dict[str, Any]) -> None:
        await self.client.create("events", event, namespace)

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self.client.patch("events", name, patch, namespace, patch_type="merge")


class EventBroadcaster:
    """The process-wide queue and writer behind every ``EventRecorder``."""

    def __init__(self, sink: EventSink | ApiClient, *,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 retry_delay: float = 1.0) -> None:
        self.sink = sink if isinstance(sink, EventSink) else EventSink(sink)
        self.wall = wall
        self.retry_delay = retry_delay
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._written: OrderedDict[tuple[str, ...], _Written] = OrderedDict()
        self.dropped = 0

    def recorder(self, component: str, host: str = "") -> EventRecorder:
        return EventRecorder(self, component, host)

    def submit(self, pending: _Pending) -> None:
        """Queue one event; a full queue drops it rather than blocking the caller."""
        if self._queue is None:
            self._queue = asyncio.Queue(_QUEUE_SIZE)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write_loop(),
                                                                name="event-writer")
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full, dropping %s %s: %s", pending.type, pending.reason,
                        pending.message)

    async def _write_loop(self) -> None:
        assert self._queue is not None
        while True:
            pending = await self._queue.get()
            try:
                await self._write_with_retries(pending)
            finally:
                self._queue.task_done()

    async def _write_with_retries(self, pending: _Pending) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                await self._write(pending)
                return
            except errors.ApiError as exc:
                if attempt == _ATTEMPTS - 1 or isinstance(exc, (errors.Invalid, errors.Forbidden)):
                    log.warning("dropping event %s %s on %s: %s", pending.type, pending.reason,
                                pending.ref.get("name"), exc)
                    return
                await asyncio.sleep(self.retry_delay * (attempt + 1))

    @staticmethod
    def _key(p: _Pending) -> tuple[str, ...]:
        ref = p.ref
        return (p.component, p.host, str(ref.get("kind")), str(ref.get("apiVersion")),
                str(ref.get("namespace", "")), str(ref.get("name", "")), str(ref.get("uid", "")),
                str(ref.get("fieldPath", "")), p.type, p.reason, p.message)

    async def _write(self, p: _Pending) -> None:
        key = self._key(p)
        stamp = format_time(p.when)
        seen = self._written.get(key)
        if seen is not None:
            try:
                await self.sink.patch(seen.namespace, seen.name,
                                      {"count": seen.count + 1, "lastTimestamp": stamp})
            except errors.NotFound:
                del self._written[key]  # expired or deleted: start over with a new object
            else:
                seen.count += 1
                self._written.move_to_end(key)
                return
        namespace = str(p.ref.get("namespace") or "default")
        name = f"{p.ref.get('name', 'event')}.{time.time_ns():x}"
        await self.sink.create(namespace, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": p.ref, "reason": p.reason, "message": p.message, "type": p.type,
            "source": {"component": p.component, **({"host": p.host} if p.host else {})},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": p.component, "reportingInstance": p.host,
        })
        self._written[key] = _Written(namespace, name, 1)
        if len(self._written) > _CACHE_SIZE:
            self._written.popitem(last=False)

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued event has been written (or given up on)."""
        if self._queue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (bounded by ``timeout``), then stop the writer."""
        await self.flush(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class EventRecorder:
    """Records events on behalf of one component (``source.component``)."""

    def __init__(self, broadcaster: EventBroadcaster, component: str, host: str = "") -> None:
        self.broadcaster = broadcaster
        self.component = component
        self.host = host

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *,
              field_path: str | None = None) -> None:
        """Queue one event about ``obj``; never blocks, and delivery errors never reach the caller."""
        if type_ not in (NORMAL, WARNING):
            raise ValueError(f"event type must be {NORMAL} or {WARNING}, not {type_!r}")
        self.broadcaster.submit(_Pending(
            object_reference(obj, field_path), type_, reason, message, self.component,
            self.host, self.broadcaster.wall()))
