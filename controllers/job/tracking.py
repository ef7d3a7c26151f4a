"""Counting finished pods exactly once, with the ``batch.kubernetes.io/job-tracking`` finalizer.

A Job's counters must survive pods being deleted (by users, the garbage
collector, node loss) and the controller restarting at any moment.  Kubernetes
(``trackJobStatusAndRemoveFinalizers``) keeps every pod it created pinned by a
finalizer until the pod has been counted, in three durable steps:

1. the uids of newly finished pods go into ``status.uncountedTerminatedPods``
   (written first: a crash after this point loses nothing);
2. the finalizers of those pods are removed;
3. uids whose pod no longer carries the finalizer move from the uncounted
   lists into ``succeeded``/``failed``.

Indexed Jobs count successes by index (``completedIndexes``) instead, so a
second success of the same index never counts twice.  Only when nothing is
left uncounted and no pod is still terminating does the Job get its terminal
condition (``Complete`` after ``SuccessCriteriaMet``, ``Failed`` after
``FailureTarget``, as 1.32 orders them).

The pod cache may lag the finalizer removals of a previous pass; the uids are
remembered (``FinalizerExpectations``) until the cache shows them, so a pod
is never counted twice.  Every status write carries the cached
``resourceVersion``: a pass that worked from a stale Job gets a conflict and
starts over instead of writing stale counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controllers.job.util import (
    COMPLETE,
    FAILED,
    FAILURE_TARGET,
    JOB_TRACKING_FINALIZER,
    SUCCESS_CRITERIA_MET,
    completion_index,
    ensure_condition,
    format_indexes,
    has_tracking_finalizer,
    is_indexed,
    is_pod_failed,
)
from machinery import errors
from machinery.client import ApiClient
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.meta import get_condition

__all__ = ["FinalizerExpectations", "SyncState", "StatusTracker", "MAX_UNCOUNTED_PODS",
           "remove_finalizer_patch"]

Obj = dict[str, Any]

# Uids held in status at once: keeps the object small and one big Job from starving others.
MAX_UNCOUNTED_PODS = 500


def remove_finalizer_patch() -> Obj:
    """A strategic-merge patch taking only the tracking finalizer off a pod."""
    return {"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}}


class FinalizerExpectations:
    """Pod uids per Job key whose finalizer we removed but the pod cache still shows."""

    def __init__(self) -> None:
        self._store: dict[str, set[str]] = {}

    def expect(self, key: str, uids: list[str]) -> None:
        if uids:
            self._store.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        pending = self._store.get(key)
        if pending is not None:
            pending.discard(uid)
            if not pending:
                del self._store[key]

    def expected(self, key: str) -> set[str]:
        return set(self._store.get(key, ()))

    def delete(self, key: str) -> None:
        self._store.pop(key, None)


@dataclass
class SyncState:
    """What one Job sync learned, handed from the decision step to the tracking step."""

    key: str
    job: Obj  # a private copy; its status is edited in place
    pods: list[Obj]
    expected_removals: set[str]
    terminating: int
    finished: Obj | None = None  # the condition the Job is heading for
    succeeded_indexes: set[int] = field(default_factory=set)
    prev_succeeded_indexes: set[int] = field(default_factory=set)


def _uid(pod: Obj) -> str:
    return str(pod["metadata"].get("uid"))


def _uncounted(status: Obj) -> Obj:
    current = status.get("uncountedTerminatedPods") or {}
    status["uncountedTerminatedPods"] = {k: list(current[k]) for k in ("succeeded", "failed")
                                         if current.get(k)}
    return dict(status["uncountedTerminatedPods"])


def _set_uncounted(status: Obj, succeeded: list[str], failed: list[str]) -> None:
    status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", succeeded),
                                                           ("failed", failed)) if v}


def clean_uncounted(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uids whose pod lost its finalizer (or is gone) into the counters."""
    uncounted = _uncounted(status)
    changed = False
    kept: dict[str, list[str]] = {}
    for kind, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = uncounted.get(kind) or []
        kept[kind] = [u for u in uids if u in with_finalizer]
        if len(kept[kind]) != len(uids):
            changed = True
            status[counter] = int(status.get(counter) or 0) + len(uids) - len(kept[kind])
    _set_uncounted(status, kept["succeeded"], kept["failed"])
    return changed


def _success_type(cond: Obj | None) -> bool:
    return cond is not None and cond["type"] in (SUCCESS_CRITERIA_MET, COMPLETE)


class StatusTracker:
    """Runs the three tracking steps and the final condition for one Job sync."""

    def __init__(self, client: ApiClient, recorder: EventRecorder,
                 expectations: FinalizerExpectations, wall: Callable[[], datetime]) -> None:
        self.client = client
        self.recorder = recorder
        self.expectations = expectations
        self.wall = wall

    async def track(self, state: SyncState, needs_flush: bool,
                    on_flushed: Callable[[], None]) -> None:
        """Count, uncount and finish; ``on_flushed`` runs once new uids are durable."""
        job = state.job
        status = job["status"]
        uncounted = _uncounted(status)
        succeeded_uids = list(uncounted.get("succeeded") or [])
        failed_uids = list(uncounted.get("failed") or [])
        known_failed = set(failed_uids)
        known_succeeded = set(succeeded_uids)
        with_finalizer = {_uid(p) for p in state.pods
                          if has_tracking_finalizer(p) and _uid(p) not in state.expected_removals}
        needs_flush = clean_uncounted(status, with_finalizer) or needs_flush
        uncounted = _uncounted(status)
        succeeded_uids = list(uncounted.get("succeeded") or [])
        failed_uids = list(uncounted.get("failed") or [])
        indexed = is_indexed(job)
        completions = int((job.get("spec") or {}).get("completions") or 0)
        pods = sorted(state.pods, key=lambda p: completion_index(p) or 0) if indexed else state.pods
        removable: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        for pod in pods:
            uid = _uid(pod)
            if not has_tracking_finalizer(pod) or uid in state.expected_removals:
                continue  # counted in an earlier pass
            failed = is_pod_failed(pod, job)
            phase = (pod.get("status") or {}).get("phase")
            if not (job["metadata"].get("deletionTimestamp") or state.finished is not None
                    or phase == "Succeeded" or failed):
                continue
            removable.append(pod)
            index = completion_index(pod)
            if phase == "Succeeded" and uid not in known_failed:
                if indexed:
                    if (index is not None and index < completions
                            and index not in state.prev_succeeded_indexes):
                        new_indexes.append(index)
                        needs_flush = True
                elif uid not in known_succeeded:
                    succeeded_uids.append(uid)
                    needs_flush = True
            elif failed or (state.finished is not None and not _success_type(state.finished)):
                valid = not indexed or (index is not None and index < completions)
                if uid not in known_failed and valid:
                    failed_uids.append(uid)
                    needs_flush = True
            if len(new_indexes) + len(succeeded_uids) + len(failed_uids) >= MAX_UNCOUNTED_PODS:
                reached_max = True  # the status writes below bring the Job back for the rest
                break
        _set_uncounted(status, succeeded_uids, failed_uids)
        if indexed:
            state.succeeded_indexes |= set(new_indexes)
            text = format_indexes(state.succeeded_indexes)
            if text != (status.get("completedIndexes") or ""):
                needs_flush = True
            if text:
                status["completedIndexes"] = text
            else:
                status.pop("completedIndexes", None)
            status["succeeded"] = len(state.succeeded_indexes)
        needs_flush = self._interim_condition(state) or needs_flush
        if needs_flush:
            job = state.job = await self._write(job)
            on_flushed()
            needs_flush = False
        status = job["status"]
        removal_error = await self._remove_finalizers(state.key, removable, with_finalizer)
        if clean_uncounted(status, with_finalizer):
            needs_flush = True
            if removal_error is not None:
                state.job = await self._write(job)
                raise removal_error
        if removal_error is not None:
            raise removal_error
        finished = not reached_max and self._enact_finished(state)
        if needs_flush or finished:
            state.job = await self._write(state.job)
            if finished:
                self._record_finished(state)

    def _interim_condition(self, state: SyncState) -> bool:
        """Write ``FailureTarget``/``SuccessCriteriaMet`` before any finalizer comes off."""
        cond = state.finished
        if cond is None:
            return False
        conditions = state.job["status"].setdefault("conditions", [])
        if cond["type"] == FAILURE_TARGET:
            conditions.append(dict(cond))
            state.finished = dict(cond, type=FAILED)
            return True
        if cond["type"] == SUCCESS_CRITERIA_MET:
            state.finished = dict(cond, type=COMPLETE)
            if get_condition(conditions, SUCCESS_CRITERIA_MET) is None:
                conditions.append(dict(cond))
                return True
        return False

    def _enact_finished(self, state: SyncState) -> bool:
        cond = state.finished
        status = state.job["status"]
        if cond is None or status.get("uncountedTerminatedPods") or state.terminating > 0:
            return False
        conditions = status.setdefault("conditions", [])
        ensure_condition(conditions, cond["type"], "True", cond.get("reason", ""),
                         cond.get("message", ""), self.wall())
        if cond["type"] == COMPLETE:
            status["completionTime"] = (get_condition(conditions, COMPLETE) or {}).get(
                "lastTransitionTime")
        return True

    def _record_finished(self, state: SyncState) -> None:
        job, cond = state.job, state.finished
        assert cond is not None
        if cond["type"] == COMPLETE:
            completions = (job.get("spec") or {}).get("completions")
            if completions is not None and int(job["status"].get("succeeded") or 0) > completions:
                self.recorder.event(job, WARNING, "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count "
                                    "reached")
            self.recorder.event(job, NORMAL, "Completed", "Job completed")
        else:
            self.recorder.event(job, WARNING, cond.get("reason", ""), cond.get("message", ""))

    async def _write(self, job: Obj) -> Obj:
        return await self.client.update_status("jobs", job)

    async def _remove_finalizers(self, key: str, pods: list[Obj],
                                 with_finalizer: set[str]) -> Exception | None:
        """Take the finalizer off ``pods``; drop each success from ``with_finalizer``."""
        if not pods:
            return None
        self.expectations.expect(key, [_uid(p) for p in pods])

        async def remove(pod: Obj) -> None:
            meta = pod["metadata"]
            try:
                await self.client.patch("pods", meta["name"], remove_finalizer_patch(),
                                        meta.get("namespace"), patch_type="strategic")
            except errors.NotFound:
                pass  # gone: as good as removed
            except Exception:
                self.expectations.observed(key, _uid(pod))  # no update will come for it
                raise
            with_finalizer.discard(_uid(pod))

        results = await asyncio.gather(*(remove(p) for p in pods), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure
        return next((f for f in failures if isinstance(f, Exception)), None)
