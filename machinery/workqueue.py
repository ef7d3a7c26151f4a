"""Work queues with client-go semantics, the spine of every controller.

Handlers enqueue keys; workers ``get`` a key, reconcile it and call ``done``.
The queue guarantees what makes level-triggered controllers safe to run with
many workers (client-go ``util/workqueue``):

* a key is queued at most once however often it is added (the *dirty* set);
* a key never runs in two workers at once (the *processing* set); a key added
  while it is being processed is queued again when ``done`` is called, so the
  change that caused the add is never missed.

``DelayingQueue`` adds ``add_after`` and ``RateLimitingQueue`` adds per-key
back-off.  Time comes from an injected ``Clock`` so tests drive the queues with
``FakeClock`` and never sleep for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

__all__ = [
    "Clock",
    "RealClock",
    "FakeClock",
    "ShutDown",
    "Queue",
    "DelayingQueue",
    "RateLimitingQueue",
    "RateLimiter",
    "ItemExponentialFailureRateLimiter",
    "BucketRateLimiter",
    "MaxOfRateLimiter",
    "default_controller_rate_limiter",
]

T = TypeVar("T", bound=Hashable)


class Clock(Protocol):
    """Monotonic time in seconds plus a way to wait on it."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """The event loop's notion of time, for production use."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when a test advances it.

    ``advance`` wakes sleepers in deadline order and lets the woken tasks run
    between steps, so a chain of timed actions unfolds as it would in real time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), fut))
        await fut

    def sleepers(self) -> int:
        """How many sleeps are pending (cancelled ones excluded)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    async def settle(self, rounds: int = 50) -> None:
        """Yield to the loop until runnable tasks had a chance to reach their next wait."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self._now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, _ = self._sleepers[0]
            self._now = max(self._now, deadline)
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, fut = heapq.heappop(self._sleepers)
                if not fut.done():
                    fut.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()


class ShutDown(Exception):
    """Raised by ``Queue.get`` once the queue is shut down and drained of waiters."""


class Queue(Generic[T]):
    """A FIFO of keys with de-duplication and exclusive processing."""

    def __init__(self) -> None:
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._shutting_down = False
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._changed.set()

    def __len__(self) -> int:
        return len(self._queue)

    async def get(self) -> T:
        """Wait for the next key; raises ``ShutDown`` once shut down.

        Like client-go, keys still queued at shutdown are not handed out: a
        controller that is stopping must not start new work.
        """
        while not self._queue or self._shutting_down:
            if self._shutting_down:
                raise ShutDown()
            self._changed.clear()
            await self._changed.wait()
        item = self._queue.popleft()
        self._processing.add(item)
        self._idle.clear()
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Mark a key finished; if it was added meanwhile, queue it again."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._changed.set()
        if not self._processing:
            self._idle.set()

    def processing(self) -> int:
        return len(self._processing)

    def shutdown(self) -> None:
        self._shutting_down = True
        self._changed.set()

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every key handed out has been marked done."""
        self.shutdown()
        await self._idle.wait()

    def shutting_down(self) -> bool:
        return self._shutting_down


class DelayingQueue(Queue[T]):
    """A queue whose keys can be scheduled to appear later.

    One background task (started lazily on the first delayed add) sleeps until
    the earliest deadline; an earlier new deadline wakes it.  Adding a key that
    is already waiting keeps the earlier of the two deadlines.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock: Clock = clock or RealClock()
        self._waiting: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}
        self._seq = itertools.count()
        self._new_entry = asyncio.Event()
        self._waker: asyncio.Task[None] | None = None

    def add_after(self, item: T, seconds: float) -> None:
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(item)
            return
        ready_at = self.clock.now() + seconds
        current = self._ready_at.get(item)
        if current is not None and current <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), item))
        self._new_entry.set()
        if self._waker is None:
            self._waker = asyncio.get_running_loop().create_task(
                self._wake_loop(), name="workqueue-delay")

    def waiting(self) -> int:
        """How many keys are scheduled for later."""
        return len(self._ready_at)

    def shutdown(self) -> None:
        super().shutdown()
        if self._waker is not None:
            self._waker.cancel()
            self._waker = None

    def _release_due(self) -> float | None:
        """Queue every key whose time has come; return the next deadline."""
        now = self.clock.now()
        while self._waiting:
            ready_at, _, item = self._waiting[0]
            if self._ready_at.get(item) != ready_at:
                heapq.heappop(self._waiting)  # superseded by an earlier deadline
                continue
            if ready_at > now:
                return ready_at
            heapq.heappop(self._waiting)
            del self._ready_at[item]
            self.add(item)
        return None

    async def _wake_loop(self) -> None:
        while not self._shutting_down:
            self._new_entry.clear()
            next_at = self._release_due()
            waiters: set[asyncio.Future[object]] = {
                asyncio.ensure_future(self._new_entry.wait())}
            if next_at is not None:
                waiters.add(asyncio.ensure_future(self.clock.sleep(next_at - self.clock.now())))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


class RateLimiter(Protocol[T]):
    """Decides how long a key waits before its next retry."""

    def when(self, item: T) -> float: ...

    def forget(self, item: T) -> None: ...

    def num_requeues(self, item: T) -> int: ...


class ItemExponentialFailureRateLimiter(Generic[T]):
    """Per-key back-off doubling from ``base`` up to ``max`` seconds."""

    def __init__(self, base: float = 0.005, max: float = 1000.0) -> None:
        self.base = base
        self.max = max
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 64:  # 2**64 * base is past any sensible max; avoid float overflow
            return self.max
        return min(self.base * (2 ** exp), self.max)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """An overall token bucket: ``burst`` retries at once, then ``qps`` per second.

    Each call reserves a token; when the bucket is empty the reservation lies in
    the future and its distance is the delay (golang.org/x/time/rate semantics).
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self.clock: Clock = clock or RealClock()
        self._tokens = float(burst)
        self._last = self.clock.now()

    def when(self, item: T) -> float:
        now = self.clock.now()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: T) -> None:
        return None

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The strictest of several limiters (every one is consulted, as in client-go)."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: T) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter[str]:
    """Per-key 5 ms .. 1000 s exponential back-off, capped overall at 10 qps / burst 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(10.0, 100, clock),
    )


class RateLimitingQueue(DelayingQueue[T]):
    """A delaying queue whose retries are spaced by a rate limiter."""

    def __init__(self, rate_limiter: RateLimiter[T] | None = None, clock: Clock | None = None,
                 ) -> None:
        super().__init__(clock)
        self.rate_limiter: RateLimiter[T] = (
            rate_limiter if rate_limiter is not None
            else default_controller_rate_limiter(self.clock)  # type: ignore[assignment]
        )

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Clear the key's failure history (call after a successful reconcile)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
