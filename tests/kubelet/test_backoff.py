"""Crash-loop back-off: immediate first retry, doubling delays, cap, reset after quiet."""

from __future__ import annotations

import pytest

from kubelet.backoff import Backoff
from tests.kubelet.fakes import FakeClock


def test_delays_double_up_to_the_cap_and_count_from_the_failure() -> None:
    clock = FakeClock()
    backoff = Backoff(10, 40, clock)
    failed = clock()
    assert not backoff.in_backoff_since("k", failed)  # the first failure retries at once
    backoff.next("k", failed)
    delays = []
    for _ in range(4):
        clock.advance(1)
        failed = clock()
        assert backoff.in_backoff_since("k", failed)
        delays.append(backoff.delay("k"))
        assert backoff.remaining("k", failed) == pytest.approx(backoff.delay("k"))
        clock.advance(backoff.delay("k"))
        assert not backoff.in_backoff_since("k", failed)
        backoff.next("k", failed)
    assert delays == [10, 20, 40, 40]


def test_a_long_quiet_run_resets_the_delay() -> None:
    clock = FakeClock()
    backoff = Backoff(10, 300, clock)
    backoff.next("k", clock())
    backoff.next("k", clock())
    assert backoff.delay("k") == 20
    clock.advance(601)  # ran for more than twice the maximum
    assert not backoff.in_backoff_since("k", clock())
    backoff.next("k", clock())
    assert backoff.delay("k") == 10


def test_forgetting_a_pod_and_garbage_collection() -> None:
    clock = FakeClock()
    backoff = Backoff(10, 300, clock)
    backoff.next("uid-1/a/h", clock())
    backoff.next("uid-2/a/h", clock())
    backoff.forget_prefix("uid-1/")
    assert backoff.delay("uid-1/a/h") == 0 and backoff.delay("uid-2/a/h") == 10
    clock.advance(601)
    backoff.gc()
    assert backoff.delay("uid-2/a/h") == 0


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        Backoff(0, 10)
    with pytest.raises(ValueError):
        Backoff(10, 5)
