"""The scheduling queue on a fake clock: order, back-off, unschedulable pods and move requests."""

from __future__ import annotations

import asyncio

import pytest
from tests.scheduler.builders import make_pod

from machinery.workqueue import FakeClock, ShutDown
from scheduler.queue import ACTIVE, BACKOFF, IN_FLIGHT, UNSCHEDULABLE, SchedulingQueue


def _queue() -> tuple[SchedulingQueue, FakeClock]:
    clock = FakeClock()
    return SchedulingQueue(clock), clock


async def _pop_now(queue: SchedulingQueue) -> str | None:
    """The key pop() would return right away, or None if it would wait."""
    task = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    if not task.done():
        task.cancel()
        return None
    return task.result().key


async def test_priority_then_arrival_order() -> None:
    queue, clock = _queue()
    queue.add(make_pod("low"))
    await clock.advance(1)
    queue.add(make_pod("high", priority=1000))
    queue.add(make_pod("low2"))
    assert [await _pop_now(queue) for _ in range(3)] == ["default/high", "default/low",
                                                         "default/low2"]
    assert await _pop_now(queue) is None


async def test_adding_twice_queues_once_and_keeps_newest_object() -> None:
    queue, _ = _queue()
    queue.add(make_pod("p"))
    queue.add(make_pod("p", labels={"v": "2"}))
    entry = await queue.pop()
    assert entry.pod["metadata"]["labels"] == {"v": "2"}
    assert await _pop_now(queue) is None


def test_backoff_durations_double_to_the_cap() -> None:
    queue, _ = _queue()
    assert [queue.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_error_backs_off_then_returns_after_flush() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_backoff(entry)  # attempt 1 -> 1 s
    assert queue.counts()[BACKOFF] == 1
    await clock.advance(0.5)
    queue.flush()
    assert await _pop_now(queue) is None
    await clock.advance(0.5)
    queue.flush()
    again = await queue.pop()
    assert again is entry and entry.attempts == 2
    queue.requeue_backoff(entry)  # attempt 2 -> 2 s
    await clock.advance(1.5)
    queue.flush()
    assert queue.counts()[BACKOFF] == 1
    await clock.advance(0.5)
    queue.flush()
    assert queue.counts()[ACTIVE] == 1


async def test_unschedulable_waits_for_a_move_request() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_unschedulable(entry, {"NodeResourcesFit"}, queue.scheduling_cycle)
    assert entry.where == UNSCHEDULABLE and entry.unschedulable_plugins == {"NodeResourcesFit"}
    await clock.advance(60)
    queue.flush()
    assert await _pop_now(queue) is None
    queue.move_all_to_active()  # back-off (1 s) long over: straight to active
    assert await _pop_now(queue) == "default/p"


async def test_move_during_backoff_goes_to_backoff_queue() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_unschedulable(entry, set(), queue.scheduling_cycle)
    await clock.advance(0.2)
    queue.move_all_to_active()
    assert entry.where == BACKOFF
    await clock.advance(1)
    queue.flush()
    assert entry.where == ACTIVE


async def test_move_request_while_in_flight_is_not_lost() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    cycle = queue.scheduling_cycle
    queue.move_all_to_active()  # e.g. a node was added while we were filtering
    queue.requeue_unschedulable(entry, set(), cycle)
    assert entry.where == BACKOFF


async def test_unschedulable_timeout_retries_eventually() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_unschedulable(entry, set(), queue.scheduling_cycle)
    await clock.advance(299)
    queue.flush()
    assert entry.where == UNSCHEDULABLE
    await clock.advance(1)
    queue.flush()
    assert entry.where == ACTIVE


async def test_spec_change_reactivates_unschedulable_pod_but_status_does_not() -> None:
    queue, clock = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_unschedulable(entry, set(), queue.scheduling_cycle)
    await clock.advance(5)
    status_only = make_pod("p")
    status_only["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    queue.update(status_only)
    assert entry.where == UNSCHEDULABLE
    queue.update(make_pod("p", tolerations=[{"operator": "Exists"}]))
    assert entry.where == ACTIVE


async def test_change_in_flight_sends_the_pod_to_backoff() -> None:
    queue, _ = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.update(make_pod("p", node_selector={"a": "b"}))
    assert entry.where == IN_FLIGHT and entry.changed_in_flight
    queue.requeue_unschedulable(entry, set(), queue.scheduling_cycle + 100)
    assert entry.where == BACKOFF


async def test_deleted_while_in_flight_is_not_requeued() -> None:
    queue, _ = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.delete("default/p")
    queue.requeue_unschedulable(entry, set(), queue.scheduling_cycle)
    assert "default/p" not in queue
    queue.add(make_pod("p"))  # re-created under the same name
    fresh = queue.get("default/p")
    queue.requeue_backoff(entry)
    assert queue.get("default/p") is fresh and fresh is not None and fresh.where == ACTIVE


async def test_done_removes_and_bind_failure_brings_back() -> None:
    queue, _ = _queue()
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.done(entry.key)
    assert "default/p" not in queue
    queue.requeue_backoff(entry)
    assert queue.get("default/p") is entry and entry.where == BACKOFF


async def test_stale_heap_entries_are_skipped() -> None:
    queue, _ = _queue()
    queue.add(make_pod("gone"))
    queue.add(make_pod("p"))
    queue.delete("default/gone")
    assert await _pop_now(queue) == "default/p"


async def test_priority_raise_while_active_jumps_the_line() -> None:
    queue, clock = _queue()
    queue.add(make_pod("first"))
    await clock.advance(1)
    queue.add(make_pod("second"))
    queue.update(make_pod("second", priority=10))
    assert [await _pop_now(queue) for _ in range(2)] == ["default/second", "default/first"]
    assert await _pop_now(queue) is None


async def test_pop_waits_for_an_add_and_close_stops_it() -> None:
    queue, _ = _queue()
    waiter = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(make_pod("p"))
    assert (await asyncio.wait_for(waiter, 1)).key == "default/p"
    closing = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(closing, 1)


async def test_run_flushes_on_the_clock() -> None:
    queue, clock = _queue()
    runner = asyncio.ensure_future(queue.run())
    queue.add(make_pod("p"))
    entry = await queue.pop()
    queue.requeue_backoff(entry)
    await clock.advance(1)
    assert entry.where == ACTIVE
    queue.close()
    await clock.advance(1)
    await asyncio.wait_for(runner, 1)
