"""ControllerExpectations and slow-start batches."""

from __future__ import annotations

import asyncio

import pytest

from machinery.expectations import ControllerExpectations, UIDTrackingExpectations
from machinery.slowstart import slow_start_batch
from machinery.workqueue import FakeClock


def test_unknown_key_is_satisfied() -> None:
    assert ControllerExpectations(FakeClock()).satisfied("ns/a")


def test_creations_must_all_be_observed() -> None:
    exp = ControllerExpectations(FakeClock())
    exp.expect_creations("ns/a", 2)
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert exp.satisfied("ns/a")


def test_lower_and_raise() -> None:
    exp = ControllerExpectations(FakeClock())
    exp.set("k", 1, 1)
    exp.lower("k", add=1)
    assert not exp.satisfied("k")
    exp.raise_("k", add=1)
    exp.lower("k", add=1, delete=1)
    assert exp.satisfied("k")
    exp.lower("missing", add=1)  # no record: nothing to lower, nothing raised
    assert exp.get("missing") is None


async def test_expectations_expire_after_five_minutes() -> None:
    clock = FakeClock()
    exp = ControllerExpectations(clock)
    exp.expect_deletions("k", 1)
    await clock.advance(300)
    assert not exp.satisfied("k")
    await clock.advance(1)
    assert exp.satisfied("k")


def test_uid_tracking_counts_each_deleted_object_once() -> None:
    exp = UIDTrackingExpectations(FakeClock())
    exp.expect_deletions_of("rs", ["ns/p1", "ns/p2"])
    exp.deletion_observed_of("rs", "ns/p1")
    exp.deletion_observed_of("rs", "ns/p1")  # the delete after the update with a timestamp
    exp.deletion_observed_of("rs", "ns/other")
    assert not exp.satisfied("rs") and exp.pending_deletions("rs") == {"ns/p2"}
    exp.deletion_observed_of("rs", "ns/p2")
    assert exp.satisfied("rs")
    exp.delete("rs")
    assert exp.get("rs") is None and exp.pending_deletions("rs") == set()


@pytest.mark.parametrize(("count", "fail_from", "calls", "successes"), [
    (10, None, 10, 10),   # 1 + 2 + 4 + 3
    (10, 1, 1, 0),        # the first call fails: nothing else is tried
    (10, 4, 7, 3),        # 1 + 2 ok, then a batch of 4 with failures
    (0, None, 0, 0),
])
async def test_slow_start_batches(count: int, fail_from: int | None, calls: int,
                                  successes: int) -> None:
    made = finished = 0
    started_after: list[int] = []  # calls of one batch all start before any finishes

    async def call() -> None:
        nonlocal made, finished
        made += 1
        number = made
        started_after.append(finished)
        await asyncio.sleep(0)
        finished += 1
        if fail_from is not None and number >= fail_from:
            raise RuntimeError("quota")

    ok, failures = await slow_start_batch(count, 1, call)
    assert (made, ok) == (calls, successes)
    assert bool(failures) == (fail_from is not None)
    batches = [started_after.count(n) for n in sorted(set(started_after))]
    assert batches == {10: [1, 2, 4, 3], 1: [1], 7: [1, 2, 4], 0: []}[calls]
