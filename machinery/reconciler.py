"""The worker loop every controller runs over its rate-limited queue.

A controller is a ``reconcile(key)`` coroutine; this module turns its outcome
into queue actions the way client-go controllers do by hand (sample-controller
``processNextWorkItem``), so no controller re-implements retry policy:

* returns ``None``          -> ``forget`` (the key's back-off resets);
* returns ``Requeue(after)`` -> ``forget`` then ``add_after`` (timed re-check,
  e.g. minReadySeconds), not counted as a failure;
* raises                    -> logged, ``add_rate_limited`` (exponential back-off).

``done`` is always called, so a key added meanwhile is processed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from machinery import errors
from machinery.workqueue import RateLimitingQueue, ShutDown

__all__ = ["Requeue", "Reconciler", "ReconcileFn", "run_workers", "process_one"]


@dataclass(frozen=True)
class Requeue:
    """Ask to see the key again after ``after`` seconds, without counting a failure."""

    after: float


class Reconciler(Protocol):
    async def reconcile(self, key: str) -> Requeue | None: ...


ReconcileFn = Callable[[str], Awaitable["Requeue | None"]]


def _as_fn(reconcile: Reconciler | ReconcileFn) -> ReconcileFn:
    method = getattr(reconcile, "reconcile", None)
    if method is not None and callable(method):
        return method  # type: ignore[no-any-return]
    return reconcile  # type: ignore[return-value]


async def process_one(queue: RateLimitingQueue[str], reconcile: Reconciler | ReconcileFn, *,
                      name: str, logger: logging.Logger) -> None:
    """Take one key and settle it; raises ``ShutDown`` when the queue is closed."""
    fn = _as_fn(reconcile)
    key = await queue.get()
    try:
        result = await fn(key)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure is retried with back-off
        retries = queue.num_requeues(key)
        if isinstance(exc, errors.Conflict):
            # Routine under optimistic concurrency: the next pass reads fresh state.
            logger.info("%s: reconcile %r conflicted, retrying (%d): %s", name, key, retries, exc)
        else:
            logger.error("%s: reconcile %r failed, retrying (%d): %s", name, key, retries, exc,
                         exc_info=exc)
        queue.add_rate_limited(key)
    else:
        queue.forget(key)
        if result is not None:
            queue.add_after(key, result.after)
    finally:
        queue.done(key)


async def run_workers(queue: RateLimitingQueue[str], reconcile: Reconciler | ReconcileFn,
                      workers: int, *, name: str, logger: logging.Logger) -> None:
    """Run ``workers`` concurrent loops until the queue shuts down (or this is cancelled)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")

    async def worker() -> None:
        while True:
            try:
                await process_one(queue, reconcile, name=name, logger=logger)
            except ShutDown:
                return

    logger.info("%s: starting %d workers", name, workers)
    try:
        async with asyncio.TaskGroup() as group:
            for index in range(workers):
                group.create_task(worker(), name=f"{name}-worker-{index}")
    finally:
        logger.info("%s: workers stopped", name)
