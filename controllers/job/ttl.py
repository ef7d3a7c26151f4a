"""The TTL-after-finished controller: delete a Job ``ttlSecondsAfterFinished`` after it ends.

As ``pkg/controller/ttlafterfinished`` does, a Job that finished (its
``Complete`` or ``Failed`` condition turned True) and has a TTL is
requeued for the moment the TTL runs out; then a fresh read confirms it is
still due (the TTL may have been raised meanwhile) and the Job is deleted
with background propagation, conditional on that very resourceVersion, so
its pods go too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.base import QueueController
from controllers.job.util import COMPLETE, FAILED
from controllers.manager import ControllerContext
from machinery import errors
from machinery.meta import is_being_deleted, parse_time, split_key
from machinery.reconciler import Requeue

__all__ = ["TTLAfterFinishedController", "finished_at", "seconds_left"]

Obj = dict[str, Any]


def finished_at(job: Obj) -> datetime | None:
    """When the Job's terminal condition turned True."""
    for cond in (job.get("status") or {}).get("conditions") or ():
        if (cond.get("type") in (COMPLETE, FAILED) and cond.get("status") == "True"
                and cond.get("lastTransitionTime")):
            return parse_time(cond["lastTransitionTime"])
    return None


def seconds_left(job: Obj, now: datetime) -> float | None:
    """Seconds until the Job expires (<= 0: due now); None when it never expires."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    done = finished_at(job)
    if ttl is None or done is None or is_being_deleted(job):
        return None
    return int(ttl) - (now - done).total_seconds()


class TTLAfterFinishedController(QueueController):
    """Deletes finished Jobs whose time to live has run out."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.job_informer = ctx.informers.informer("jobs")
        super().__init__("ttl-after-finished", [self.job_informer], clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.job_informer.add_handler(self._changed, lambda old, new: self._changed(new))

    def _changed(self, job: Obj) -> None:
        if seconds_left(job, self.wall()) is not None:
            self.enqueue(job)

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.job_informer.get(key)
        if cached is None:
            return None
        left = seconds_left(cached, self.wall())
        if left is None:
            return None
        if left > 0:
            return Requeue(after=left)
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get("jobs", name, namespace)
        except errors.NotFound:
            return None
        left = seconds_left(fresh, self.wall())
        if left is None:
            return None
        if left > 0:
            return Requeue(after=left)
        self.log.info("job %s: ttlSecondsAfterFinished passed, deleting it", key)
        try:
            await self.client.delete("jobs", name, namespace, propagation_policy="Background",
                                     preconditions={"resourceVersion":
                                                    fresh["metadata"]["resourceVersion"]})
        except errors.NotFound:
            pass
        return None
