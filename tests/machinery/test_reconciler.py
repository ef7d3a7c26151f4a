"""The worker loop maps reconcile outcomes onto queue actions."""

from __future__ import annotations

import asyncio
import logging

import pytest

from machinery import errors, reconciler
from machinery.reconciler import Requeue, process_one, run_workers
from machinery.workqueue import FakeClock, ItemExponentialFailureRateLimiter, RateLimitingQueue

LOG = logging.getLogger("test-reconciler")


def make_queue(clock: FakeClock) -> RateLimitingQueue[str]:
    return RateLimitingQueue(ItemExponentialFailureRateLimiter(1.0, 100.0), clock)


def test_exports_exist() -> None:
    for name in reconciler.__all__:
        assert hasattr(reconciler, name), name


async def test_success_forgets_the_key() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.rate_limiter.when("k")
    q.add("k")

    async def ok(key: str) -> None:
        return None

    await process_one(q, ok, name="t", logger=LOG)
    assert q.num_requeues("k") == 0
    assert len(q) == 0 and q.processing() == 0 and q.waiting() == 0


async def test_requeue_forgets_then_adds_after() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.rate_limiter.when("k")
    q.add("k")

    class Later:
        async def reconcile(self, key: str) -> Requeue:
            return Requeue(after=30)

    await process_one(q, Later(), name="t", logger=LOG)
    assert q.num_requeues("k") == 0
    assert q.waiting() == 1 and len(q) == 0
    await clock.advance(30)
    assert len(q) == 1
    q.shutdown()


async def test_exception_is_logged_and_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add("k")

    async def boom(key: str) -> None:
        raise RuntimeError("kaput")

    with caplog.at_level(logging.INFO, logger=LOG.name):
        await process_one(q, boom, name="ctl", logger=LOG)
    assert q.num_requeues("k") == 1
    assert q.waiting() == 1 and q.processing() == 0
    assert any("kaput" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)

    q.add("c")
    q.forget("c")

    async def conflict(key: str) -> None:
        raise errors.Conflict("modified")

    with caplog.at_level(logging.INFO, logger=LOG.name):
        await process_one(q, conflict, name="ctl", logger=LOG)
    assert any("conflicted" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)
    q.shutdown()


async def test_run_workers_processes_until_shutdown() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    seen: list[str] = []
    fail_once = {"b"}

    async def reconcile(key: str) -> Requeue | None:
        seen.append(key)
        if key in fail_once:
            fail_once.discard(key)
            raise ValueError("first try fails")
        return None

    for key in ("a", "b", "c"):
        q.add(key)
    runner = asyncio.create_task(run_workers(q, reconcile, 2, name="t", logger=LOG))
    await clock.advance(0)
    assert sorted(seen) == ["a", "b", "c"]
    await clock.advance(1.0)
    assert sorted(seen) == ["a", "b", "b", "c"]
    assert q.num_requeues("b") == 0
    q.shutdown()
    await asyncio.wait_for(runner, 1)


async def test_run_workers_rejects_zero_workers() -> None:
    with pytest.raises(ValueError):
        await run_workers(make_queue(FakeClock()), lambda key: None, 0,  # type: ignore[arg-type]
                          name="t", logger=LOG)


async def test_cancelling_run_workers_marks_keys_done() -> None:
    q = make_queue(FakeClock())
    started = asyncio.Event()

    async def slow(key: str) -> None:
        started.set()
        await asyncio.Event().wait()

    q.add("k")
    runner = asyncio.create_task(run_workers(q, slow, 1, name="t", logger=LOG))
    await asyncio.wait_for(started.wait(), 1)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert q.processing() == 0
