"""Work queue semantics: de-duplication, exclusive processing, delays, back-off."""

from __future__ import annotations

import asyncio

import pytest

from machinery import workqueue
from machinery.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    FakeClock,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    Queue,
    RateLimitingQueue,
    ShutDown,
    default_controller_rate_limiter,
)


def test_exports_exist() -> None:
    for name in workqueue.__all__:
        assert hasattr(workqueue, name), name


async def test_add_deduplicates_until_taken() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_added_while_processing_is_requeued_after_done() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    key = await q.get()
    q.add("a")
    assert len(q) == 0, "must not be handed to a second worker while processing"
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_one_key_never_runs_in_two_workers() -> None:
    q: Queue[str] = Queue()
    running: set[str] = set()
    overlaps: list[str] = []
    handled: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in running:
                overlaps.append(key)
            running.add(key)
            await asyncio.sleep(0)
            if len(handled) < 20:
                q.add(key)
            await asyncio.sleep(0)
            running.discard(key)
            handled.append(key)
            q.done(key)

    tasks = [asyncio.create_task(worker()) for _ in range(4)]
    q.add("x")
    q.add("y")
    for _ in range(200):
        await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*tasks)
    assert overlaps == []
    assert len(handled) >= 20


async def test_get_waits_for_an_add() -> None:
    q: Queue[str] = Queue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("k")
    assert await asyncio.wait_for(getter, 1) == "k"


async def test_shutdown_wakes_getters_and_ignores_adds() -> None:
    q: Queue[str] = Queue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(getter, 1)
    assert q.shutting_down()
    q.add("late")
    assert len(q) == 0
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_with_drain_waits_for_processing() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    key = await q.get()
    drain = asyncio.create_task(q.shutdown_with_drain())
    await asyncio.sleep(0)
    assert not drain.done()
    q.done(key)
    await asyncio.wait_for(drain, 1)


async def test_add_after_releases_at_deadline() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("later", 5)
    q.add_after("sooner", 2)
    q.add_after("now", 0)
    assert len(q) == 1 and q.waiting() == 2
    await clock.advance(1.9)
    assert len(q) == 1
    await clock.advance(0.2)
    assert len(q) == 2
    await clock.advance(3)
    assert [await q.get() for _ in range(3)] == ["now", "sooner", "later"]
    q.shutdown()


async def test_add_after_keeps_the_earlier_deadline() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("k", 10)
    q.add_after("k", 3)
    q.add_after("k", 20)
    assert q.waiting() == 1
    await clock.advance(3)
    assert len(q) == 1
    await clock.advance(30)
    assert len(q) == 1, "superseded deadlines must not add the key again"
    q.shutdown()


async def test_add_after_earlier_entry_wakes_a_sleeping_waiter() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("far", 100)
    await clock.advance(1)
    q.add_after("near", 1)
    await clock.advance(1)
    assert await asyncio.wait_for(q.get(), 1) == "near"
    q.shutdown()


def test_exponential_limiter_doubles_and_caps() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(0.005, 1.0)
    delays = [rl.when("k") for _ in range(10)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1.0
    assert rl.num_requeues("k") == 10
    assert rl.when("other") == 0.005
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    assert rl.when("k") == 0.005


def test_exponential_limiter_survives_many_failures() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    for _ in range(2000):
        delay = rl.when("k")
    assert delay == 1000.0


def test_bucket_limiter_allows_burst_then_paces() -> None:
    clock = FakeClock()
    rl: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [rl.when(str(i)) for i in range(3)] == [0.0, 0.0, 0.0]
    assert rl.when("x") == pytest.approx(0.1)
    assert rl.when("y") == pytest.approx(0.2)
    clock._now += 1.0  # a second later the bucket has refilled
    assert rl.when("z") == 0.0
    assert rl.num_requeues("z") == 0


def test_max_of_takes_strictest_and_forgets_all() -> None:
    clock = FakeClock()
    exp: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(1.0, 100.0)
    bucket: BucketRateLimiter[str] = BucketRateLimiter(qps=1, burst=1, clock=clock)
    rl = MaxOfRateLimiter(exp, bucket)
    assert rl.when("k") == 1.0
    assert rl.when("k") == 2.0
    assert rl.num_requeues("k") == 2
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    with pytest.raises(ValueError):
        MaxOfRateLimiter()


def test_default_controller_rate_limiter_starts_at_5ms() -> None:
    rl = default_controller_rate_limiter(FakeClock())
    assert rl.when("k") == 0.005
    assert rl.when("k") == 0.01


async def test_rate_limiting_queue_backs_off_per_key() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        ItemExponentialFailureRateLimiter(1.0, 60.0), clock)
    q.add_rate_limited("k")
    q.add_rate_limited("k")
    assert q.num_requeues("k") == 2
    await clock.advance(1.0)
    assert len(q) == 1
    key = await q.get()
    q.forget(key)
    q.done(key)
    assert q.num_requeues("k") == 0
    q.shutdown()
    q.add_after("k", 1)
    assert q.waiting() == 0


async def test_fake_clock_wakes_sleepers_in_order() -> None:
    clock = FakeClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(f"{name}@{clock.now()}")

    tasks = [asyncio.create_task(sleeper("b", 2)), asyncio.create_task(sleeper("a", 1))]
    await clock.settle()
    assert clock.sleepers() == 2
    await clock.advance(5)
    await asyncio.gather(*tasks)
    assert woke == ["a@1.0", "b@2.0"]
    assert clock.now() == 5.0
