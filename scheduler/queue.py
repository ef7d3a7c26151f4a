"""The scheduling queue: which pending pod to try next, and when to try a failed one again.

Three places, as upstream's ``PriorityQueue`` (``internal/queue``):

* **active**: pods ready to be tried, highest ``spec.priority`` first, then
  the earliest queued;
* **back-off**: pods that failed recently wait ``1 s * 2^(attempts-1)``,
  capped at 10 s, so one broken pod cannot monopolise the loop;
* **unschedulable**: pods no node fits.  Retrying them is pointless until the
  cluster changes, so they sleep until ``move_all_to_active`` (a node added
  or changed, a pod removed) and at the latest five minutes.

A move request that lands while a pod is being tried is remembered by
*scheduling cycle*: if the pod then turns out unschedulable, it goes to
back-off instead of sleeping, because the change it may have been waiting
for has already happened.

Every pending pod has one entry in ``_entries`` whose ``where`` says which
place holds it (or that it is in flight); the heaps may keep stale tuples,
which ``pop`` and the flusher skip.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from machinery.meta import namespaced_name
from machinery.workqueue import Clock, RealClock, ShutDown

__all__ = ["QueuedPod", "SchedulingQueue", "ACTIVE", "BACKOFF", "UNSCHEDULABLE", "IN_FLIGHT"]

Obj = dict[str, Any]

ACTIVE = "active"
BACKOFF = "backoff"
UNSCHEDULABLE = "unschedulable"
IN_FLIGHT = "inFlight"


@dataclass
class QueuedPod:
    pod: Obj
    key: str
    added: float  # when it entered its current place; orders active pods of equal priority
    first_seen: float
    attempts: int = 0
    where: str = ACTIVE
    # The pod changed while in flight: retry it soon even if it was unschedulable.
    changed_in_flight: bool = False
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def priority(self) -> int:
        value = (self.pod.get("spec") or {}).get("priority")
        return value if isinstance(value, int) else 0


class SchedulingQueue:
    def __init__(self, clock: Clock | None = None, *, initial_backoff: float = 1.0,
                 max_backoff: float = 10.0, unschedulable_timeout: float = 300.0,
                 flush_period: float = 1.0) -> None:
        self.clock: Clock = clock or RealClock()
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self.flush_period = flush_period
        self._entries: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # -- introspection ------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> QueuedPod | None:
        return self._entries.get(key)

    def counts(self) -> dict[str, int]:
        out = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, IN_FLIGHT: 0}
        for entry in self._entries.values():
            out[entry.where] += 1
        return out

    def backoff_duration(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0
        return min(self.max_backoff, self.initial_backoff * float(2 ** (attempts - 1)))

    def backoff_expiry(self, entry: QueuedPod) -> float:
        return entry.added + self.backoff_duration(entry.attempts)

    # -- placing ---------------------------------------------------------------------
    def _to_active(self, entry: QueuedPod) -> None:
        entry.where = ACTIVE
        entry.added = self.clock.now()
        heapq.heappush(self._active, (-entry.priority, entry.added, next(self._seq), entry.key))
        self._wakeup.set()

    def _to_backoff(self, entry: QueuedPod) -> None:
        entry.where = BACKOFF
        heapq.heappush(self._backoff, (self.backoff_expiry(entry), next(self._seq), entry.key))

    def _requeue(self, entry: QueuedPod) -> None:
        """Active if its back-off has passed, else back-off (upstream ``requeuePodViaQueueingHint``)."""
        if self.backoff_expiry(entry) > self.clock.now():
            self._to_backoff(entry)
        else:
            self._to_active(entry)

    def add(self, pod: Obj) -> None:
        """A new pending pod, or a newer version of one already queued."""
        key = namespaced_name(pod)
        entry = self._entries.get(key)
        if entry is None:
            now = self.clock.now()
            entry = self._entries[key] = QueuedPod(pod, key, now, now)
            self._to_active(entry)
            return
        self.update(pod)

    def update(self, pod: Obj) -> None:
        """Keep the newest object; a pod whose spec changed deserves a fresh look."""
        key = namespaced_name(pod)
        entry = self._entries.get(key)
        if entry is None:
            self.add(pod)
            return
        changed = _scheduling_relevant(entry.pod) != _scheduling_relevant(pod)
        old_priority = entry.priority
        entry.pod = pod
        if not changed:
            return
        if entry.where == IN_FLIGHT:
            entry.changed_in_flight = True
        elif entry.where == UNSCHEDULABLE:
            self._requeue(entry)
        elif entry.where == ACTIVE and entry.priority != old_priority:
            # Keep its place in line, under the new priority; the old tuple is popped first
            # or later and whichever comes second finds the pod no longer active.
            heapq.heappush(self._active, (-entry.priority, entry.added, next(self._seq), key))

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def move_all_to_active(self) -> None:
        """The cluster changed in a way that may make unschedulable pods fit."""
        self._move_request_cycle = self.scheduling_cycle
        for entry in list(self._entries.values()):
            if entry.where == UNSCHEDULABLE:
                self._requeue(entry)

    # -- the scheduling loop's side -----------------------------------------------------
    async def pop(self) -> QueuedPod:
        """The next pod to try, waiting for one; raises ``ShutDown`` once closed."""
        while True:
            if self._closed:
                raise ShutDown()
            while self._active:
                _, added, _, key = heapq.heappop(self._active)
                entry = self._entries.get(key)
                if entry is None or entry.where != ACTIVE or entry.added != added:
                    continue  # stale: deleted, moved, or re-pushed since
                entry.where = IN_FLIGHT
                entry.changed_in_flight = False
                entry.attempts += 1
                self.scheduling_cycle += 1
                return entry
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """The pod was placed (assumed on a node): it is no longer pending."""
        entry = self._entries.get(key)
        if entry is not None and entry.where == IN_FLIGHT:
            del self._entries[key]

    def requeue_unschedulable(self, entry: QueuedPod, plugins: set[str], cycle: int) -> None:
        """No node fits; ``cycle`` is the scheduling cycle in which the pod was popped."""
        if self._entries.get(entry.key) is not entry:
            return  # deleted (or re-created) while in flight
        entry.unschedulable_plugins = plugins
        entry.added = self.clock.now()
        if entry.changed_in_flight or self._move_request_cycle >= cycle:
            self._to_backoff(entry)
        else:
            entry.where = UNSCHEDULABLE

    def requeue_backoff(self, entry: QueuedPod) -> None:
        """An error (API failure, bind rejected): retry after back-off.

        A pod that left the queue when it was assumed comes back under the
        same entry, keeping its attempt count.
        """
        current = self._entries.get(entry.key)
        if current is not None and current is not entry:
            return
        self._entries[entry.key] = entry
        entry.added = self.clock.now()
        self._to_backoff(entry)

    # -- time -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Move expired back-offs to active, and pods unschedulable for too long to retry."""
        now = self.clock.now()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            entry = self._entries.get(key)
            if entry is not None and entry.where == BACKOFF and self.backoff_expiry(entry) <= now:
                self._to_active(entry)
        for entry in list(self._entries.values()):
            if entry.where == UNSCHEDULABLE and now - entry.added >= self.unschedulable_timeout:
                self._requeue(entry)

    async def run(self) -> None:
        """Flush every ``flush_period`` until cancelled (upstream flushes back-off each second)."""
        while not self._closed:
            await self.clock.sleep(self.flush_period)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()


def _scheduling_relevant(pod: Obj) -> tuple[Any, Any, Any]:
    """What a pod update must change to be worth retrying: spec, labels, annotations."""
    meta = pod.get("metadata") or {}
    return pod.get("spec"), meta.get("labels"), meta.get("annotations")
