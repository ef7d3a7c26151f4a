"""The watch cache: one etcd watch per resource type, fanned out to every watcher.

Like kube-apiserver's cacher, each resource type keeps the current objects and
a window of recent events in memory. A client watch replays the window after
its resourceVersion and then follows live events, so 500 watches cost one etcd
watch. ``resourceVersion=0`` lists are served from the current objects.

A watch that asks for a revision older than the window falls back to its own
etcd watch from that revision (so any revision etcd still retains works), and
gets ``410 Expired`` when etcd has compacted it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from machinery import errors
from machinery.resources import Resource

from .storage import Compacted, Storage, StoredEvent

__all__ = ["WatchCache", "Watcher", "WatchEvent"]

log = logging.getLogger("apiserver.watchcache")

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


@dataclass(slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    obj: Obj
    revision: int
    _encoded: bytes | None = field(default=None)

    def encode(self) -> bytes:
        """The JSON line for this event; cached because hundreds of watchers share it."""
        if self._encoded is None:
            self._encoded = orjson.dumps({"type": self.type, "object": self.obj}) + b"\n"
        return self._encoded


def _project(ev: StoredEvent, predicate: Predicate) -> tuple[str, Obj] | None:
    """What a filtered watcher sees of one event (objects moving in/out of its filter)."""
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if predicate(ev.obj) else None
    now = predicate(ev.obj)
    before = ev.prev is not None and predicate(ev.prev)
    if now and before:
        return ("MODIFIED", ev.obj)
    if now:
        return ("ADDED", ev.obj)
    if before and ev.prev is not None:
        gone = dict(ev.prev)
        gone["metadata"] = {**(ev.prev.get("metadata") or {}), "resourceVersion": str(ev.revision)}
        return ("DELETED", gone)
    return None


class Watcher:
    """One client's view of the event stream: a bounded queue plus its filter."""

    def __init__(self, predicate: Predicate, capacity: int) -> None:
        self.predicate = predicate
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue(maxsize=capacity)
        self.closed = False
        self.overflowed = False

    def offer(self, ev: StoredEvent, shared: dict[str, WatchEvent]) -> None:
        if self.closed:
            return
        projected = _project(ev, self.predicate)
        if projected is None:
            return
        kind, obj = projected
        we = shared.get(kind) if obj is ev.obj else None
        if we is None:
            we = WatchEvent(kind, obj, ev.revision)
            if obj is ev.obj:
                shared[kind] = we
        try:
            self.queue.put_nowait(we)
        except asyncio.QueueFull:
            # A consumer this slow would hold memory without bound; end its
            # watch and let it resume from its last resourceVersion.
            self.overflowed = True
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            while True:
                try:
                    self.queue.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    self.queue.get_nowait()


class WatchCache:
    def __init__(self, storage: Storage, resource: Resource, prefix: str, *,
                 window: int = 4096, watcher_capacity: int = 2048) -> None:
        self.storage = storage
        self.resource = resource
        self.prefix = prefix
        self.objects: dict[str, Obj] = {}
        self.revision = 0
        self._oldest = 0  # the window holds every event with revision > _oldest
        self._events: collections.deque[StoredEvent] = collections.deque(maxlen=window)
        self._watchers: set[Watcher] = set()
        self._watcher_capacity = watcher_capacity
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watchcache-{self.resource.plural}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for w in list(self._watchers):
            w.close()

    async def _relist(self) -> None:
        objects: dict[str, Obj] = {}
        start: str | None = None
        revision = 0
        while True:
            page, rev, more, last = await self.storage.list(self.prefix, start_key=start, limit=1000,
                                                            revision=revision)
            revision = revision or rev
            for obj in page:
                objects[self._key(obj)] = obj
            if not more or last is None:
                break
            start = last + "\0"
        self.objects = objects
        self._events.clear()
        self.revision = revision
        self._oldest = revision

    def _key(self, obj: Obj) -> str:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace")
        return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                if not self._ready.is_set():
                    await self._relist()
                    self._ready.set()
                async for ev in self.storage.watch(self.prefix, self.revision + 1):
                    self._apply(ev)
                    delay = 0.2
            except asyncio.CancelledError:
                raise
            except Compacted:
                log.warning("%s: cache fell behind compaction, relisting", self.resource.plural)
                self._reset()
            except Exception as exc:  # noqa: BLE001 - etcd unavailable: retry
                log.warning("%s: watch failed (%s), retrying", self.resource.plural, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                if not isinstance(exc, errors.ServiceUnavailable):
                    self._reset()

    def _reset(self) -> None:
        """Forget the window: watchers must resume (they will replay or get 410)."""
        self._ready.clear()
        for w in list(self._watchers):
            w.close()
        self._watchers.clear()

    def _apply(self, ev: StoredEvent) -> None:
        key = self._key(ev.obj)
        if ev.type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = ev.obj
        if len(self._events) == self._events.maxlen:
            self._oldest = self._events[0].revision
        self._events.append(ev)
        self.revision = ev.revision
        shared: dict[str, WatchEvent] = {}
        dead = []
        for w in self._watchers:
            w.offer(ev, shared)
            if w.closed:
                dead.append(w)
        for w in dead:
            self._watchers.discard(w)

    # -- reads -------------------------------------------------------------

    async def wait_ready(self, timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError as exc:
            raise errors.ServiceUnavailable(
                f"the watch cache for {self.resource.plural} is not ready") from exc

    def list(self, predicate: Predicate) -> tuple[list[Obj], int]:
        items = [o for o in self.objects.values() if predicate(o)]
        items.sort(key=self._key)
        return items, self.revision

    def get(self, key: str) -> Obj | None:
        return self.objects.get(key)

    # -- watch -------------------------------------------------------------

    async def watch(self, since: int | None, predicate: Predicate) -> AsyncIterator[WatchEvent]:
        """Events after ``since`` (None: synthetic ADDED for the current state first)."""
        await self.wait_ready()
        if since is not None and since < self._oldest:
            async for we in self._watch_storage(since, predicate):
                yield we
            return
        watcher = Watcher(predicate, self._watcher_capacity)
        backlog: list[WatchEvent] = []
        if since is None:
            items, rev = self.list(predicate)
            backlog = [WatchEvent("ADDED", o, rev) for o in items]
        else:
            for ev in self._events:
                if ev.revision > since:
                    projected = _project(ev, predicate)
                    if projected:
                        backlog.append(WatchEvent(projected[0], projected[1], ev.revision))
        self._watchers.add(watcher)
        try:
            for we in backlog:
                yield we
            while True:
                we = await watcher.queue.get()
                if we is None:
                    return
                yield we
        finally:
            watcher.close()
            self._watchers.discard(watcher)

    async def _watch_storage(self, since: int, predicate: Predicate) -> AsyncIterator[WatchEvent]:
        try:
            async for ev in self.storage.watch(self.prefix, since + 1):
                projected = _project(ev, predicate)
                if projected:
                    yield WatchEvent(projected[0], projected[1], ev.revision)
        except Compacted as exc:
            raise errors.Expired(f"too old resource version: {since} ({exc.compacted})") from exc
