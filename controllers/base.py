"""The run loop every informer-driven controller shares.

A controller here is one class with ``reconcile(key)`` (STYLE.md section 2):
its informer handlers only enqueue ``namespace/name`` keys and its workers
turn keys into API writes.  What is common to all of them -- waiting until
the caches have synced before the first reconcile, running N workers over a
rate-limited queue, shutting the queue down on exit, counting and timing
reconciles for ``/metrics`` -- lives here once.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from machinery.informer import DeletedFinalStateUnknown, Indexer, Informer, meta_key
from machinery.meta import get_controller_of
from machinery.reconciler import Requeue, run_workers
from machinery.workqueue import Clock, RateLimitingQueue

__all__ = ["QueueController", "object_of", "ensure_index", "CONTROLLER_UID_INDEX",
           "controller_uid_index"]

Obj = dict[str, Any]

CONTROLLER_UID_INDEX = "controllerUID"

RECONCILES = Counter("k8py_controller_reconcile_total", "Reconciles by controller and outcome",
                     ["controller", "result"])
RECONCILE_SECONDS = Histogram("k8py_controller_reconcile_duration_seconds",
                              "Time spent in one reconcile", ["controller"])
QUEUE_DEPTH = Gauge("k8py_workqueue_depth", "Keys waiting in a controller's queue", ["name"])


def controller_uid_index(obj: Obj) -> list[str]:
    """Index children by the uid of their controlling owner."""
    ref = get_controller_of(obj)
    return [str(ref["uid"])] if ref and ref.get("uid") else []


def object_of(obj: Obj | DeletedFinalStateUnknown) -> Obj:
    """The object behind a delete notification, tombstone or not."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def ensure_index(informer: Informer | Indexer, name: str, fn: Any) -> None:
    """Add an index unless a controller sharing the informer already did."""
    indexer = informer.indexer if isinstance(informer, Informer) else informer
    try:
        indexer.add_indexer(name, fn)
    except ValueError:
        pass  # same name, same meaning: the index is already there


class QueueController(abc.ABC):
    """Base of a keyed controller: a queue, its informers, and ``run(workers)``."""

    def __init__(self, name: str, informers: Sequence[Informer], *,
                 clock: Clock | None = None) -> None:
        self.name = name
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
        self.informers = list(informers)
        self.log = logging.getLogger(f"controllers.{name}")

    def enqueue(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.queue.add(obj.key)
        else:
            self.queue.add(meta_key(obj))

    def enqueue_after(self, obj: Obj, seconds: float) -> None:
        self.queue.add_after(meta_key(obj), seconds)

    def has_synced(self) -> bool:
        return all(informer.has_synced() for informer in self.informers)

    @abc.abstractmethod
    async def reconcile(self, key: str) -> Requeue | None:
        """Converge one object; raise to retry with back-off."""

    async def run(self, workers: int) -> None:
        """Wait for the caches, then reconcile until cancelled."""
        self.log.info("%s controller: waiting for caches to sync", self.name)
        while not self.has_synced():
            await asyncio.gather(*(informer.wait_for_sync(1.0) for informer in self.informers))
        QUEUE_DEPTH.labels(self.name).set_function(lambda: len(self.queue))
        try:
            await run_workers(self.queue, self._measured, workers, name=self.name,
                              logger=self.log)
        finally:
            self.queue.shutdown()

    async def _measured(self, key: str) -> Requeue | None:
        started = time.monotonic()
        try:
            result = await self.reconcile(key)
        except Exception:
            RECONCILES.labels(self.name, "error").inc()
            raise
        finally:
            RECONCILE_SECONDS.labels(self.name).observe(time.monotonic() - started)
        RECONCILES.labels(self.name, "requeue" if result is not None else "success").inc()
        return result
