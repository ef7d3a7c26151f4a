"""Creating and deleting a Job's pods, with expectations and events.

Creates go out in slow-start batches (a Job of 500 pods in a namespace out
of quota fails once, not 500 times), each expected before it is sent so the
informer's add event can never arrive first.  Surplus pods of a running Job
lose their tracking finalizer before they are deleted: they were removed on
purpose and must not count as failures.  When a Job has failed, its active
pods are deleted *with* the finalizer, so they are counted as failed once
their deletion is seen (``deleteActivePods`` versus ``deleteJobPods``
upstream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from controllers.job.pods import pod_for_job
from controllers.podcontrol import (
    FAILED_CREATE,
    FAILED_DELETE,
    SUCCESSFUL_CREATE,
    SUCCESSFUL_DELETE,
    create_pods,
    delete_pod,
)
from controllers.job.tracking import remove_finalizer_patch
from controllers.job.util import has_tracking_finalizer
from machinery.client import ApiClient
from machinery.events import EventRecorder
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import meta_key
from machinery.meta import pod_is_ready

__all__ = ["PodControl", "SUCCESSFUL_CREATE", "FAILED_CREATE", "SUCCESSFUL_DELETE",
           "FAILED_DELETE", "MAX_POD_CREATE_DELETE_PER_SYNC"]

Obj = dict[str, Any]

# At most this many creates or deletes per sync, so one huge Job cannot starve the rest.
MAX_POD_CREATE_DELETE_PER_SYNC = 500


class PodControl:
    """The pod writes of the Job controller."""

    def __init__(self, client: ApiClient, recorder: EventRecorder,
                 expectations: UIDTrackingExpectations) -> None:
        self.client = client
        self.recorder = recorder
        self.expectations = expectations

    async def create(self, key: str, job: Obj,
                     indexes: list[int | None]) -> tuple[int, Exception | None]:
        """Create one pod per entry of ``indexes``; how many were made and the first error."""
        pending: Iterator[int | None] = iter(indexes)
        return await create_pods(self.client, self.recorder, self.expectations, key, job, len(indexes),
                                 lambda: pod_for_job(job, next(pending)))

    async def remove(self, key: str, job: Obj,
                     pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete pods the Job no longer wants, finalizer first so they count for nothing.

        Returns how many went, how many of those were ready, and the first error.
        """
        self.expectations.expect_deletions_of(key, [meta_key(p) for p in pods])

        async def remove_one(pod: Obj) -> None:
            meta = pod["metadata"]

            async def drop_finalizer() -> None:
                await self.client.patch("pods", meta["name"], remove_finalizer_patch(),
                                        meta.get("namespace"), patch_type="strategic")

            await delete_pod(self.client, self.recorder, self.expectations, key, job, pod,
                             first=drop_finalizer if has_tracking_finalizer(pod) else None)

        return await _each(pods, remove_one)

    async def delete_active(self, job: Obj, pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete a failed Job's running pods, keeping the finalizer so each is counted."""
        async def delete_one(pod: Obj) -> None:
            await delete_pod(self.client, self.recorder, None, "", job, pod)

        return await _each(pods, delete_one)


async def _each(pods: list[Obj],
                fn: Callable[[Obj], Awaitable[None]]) -> tuple[int, int, Exception | None]:
    """Run ``fn`` on every pod at once; (successes, ready successes, first error)."""
    results = await asyncio.gather(*(fn(p) for p in pods), return_exceptions=True)
    done = ready = 0
    first: Exception | None = None
    for pod, result in zip(pods, results):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            first = first or result
            continue
        done += 1
        ready += int(pod_is_ready(pod))
    return done, ready, first
