"""Slow-start batches: try a few writes before risking many.

When a controller must create 500 pods and every create fails (a quota, an
admission webhook, a bad template), firing all 500 at once floods the API
server with doomed requests.  Kubernetes (``slowStartBatch`` in
``pkg/controller/replicaset``) starts with a batch of one and doubles the
batch after each fully successful one: 1, 2, 4, 8 ...  The first batch with
a failure ends the run, and the caller learns how many calls succeeded so it
can un-expect the ones never made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["SLOW_START_INITIAL_BATCH_SIZE", "slow_start_batch"]

SLOW_START_INITIAL_BATCH_SIZE = 1


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, list[Exception]]:
    """Call ``fn`` ``count`` times in doubling concurrent batches.

    Returns the number of successful calls and the errors of the first
    failing batch (empty when all succeeded).  Calls in later batches are
    never made once a batch has failed.
    """
    remaining = count
    successes = 0
    batch = min(remaining, max(1, initial_batch_size))
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures: list[Exception] = []
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failures.append(result)
        successes += batch - len(failures)
        if failures:
            return successes, failures
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, []
