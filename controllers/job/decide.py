"""One Job sync's decision: has the Job failed, succeeded, or how many pods should run?

The order is upstream's ``syncJob``: count finished pods not yet counted;
a Job already heading for success stays on that path; otherwise more
failures than ``backoffLimit`` (or, with ``restartPolicy: OnFailure``, that
many container restarts) or a passed ``activeDeadlineSeconds`` fail it and
its active pods are deleted.  A Job that neither failed nor succeeded gets
``manage``: delete every pod while suspended, delete surplus pods, or create
the missing ones once the failure back-off allows.  The decision edits the
copy of the status in ``SyncState``; ``controllers.job.tracking`` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controllers.job.manage import MAX_POD_CREATE_DELETE_PER_SYNC, PodControl
from controllers.job.pods import pods_for_removal
from controllers.job.tracking import SyncState
from controllers.job.util import (
    FAILED,
    FAILURE_TARGET,
    MAX_BACKOFF,
    SUCCESS_CRITERIA_MET,
    SUSPENDED,
    BackoffRecord,
    completion_index,
    ensure_condition,
    first_pending_indexes,
    has_tracking_finalizer,
    is_indexed,
    is_pod_failed,
    is_suspended,
    new_condition,
    next_backoff_record,
    only_replace_failed,
    parse_indexes,
)
from machinery.events import NORMAL, EventRecorder
from machinery.meta import (
    format_time,
    get_condition,
    is_being_deleted,
    parse_time,
    pod_is_active,
    pod_is_ready,
    pod_is_terminal,
)

__all__ = ["Decision", "decide", "BACKOFF_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED",
           "COMPLETIONS_REACHED", "SYNC_BATCH_PERIOD"]

Obj = dict[str, Any]

BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"
COMPLETIONS_REACHED = "CompletionsReached"
# The shortest wait before a delayed sync, so bursts of pod events settle first.
SYNC_BATCH_PERIOD = 1.0
DEFAULT_BACKOFF_LIMIT = 6


@dataclass
class Decision:
    backoff: BackoffRecord
    requeue_after: float | None = None
    error: Exception | None = None

    def requeue(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.requeue_after = seconds if self.requeue_after is None else min(
            self.requeue_after, seconds)


def _newly_finished(state: SyncState, uncounted: set[str],
                    finished: Callable[[Obj], bool]) -> list[Obj]:
    """Pods that finished and are neither counted nor waiting in ``uncounted``."""
    job = state.job
    completions = int((job.get("spec") or {}).get("completions") or 0)
    found = []
    for pod in state.pods:
        uid = str(pod["metadata"].get("uid"))
        if not has_tracking_finalizer(pod) or uid in uncounted or uid in state.expected_removals:
            continue
        if is_indexed(job):
            index = completion_index(pod)
            if index is None or index >= completions:
                continue
        if finished(pod):
            found.append(pod)
    return found


def _backoff_limit(spec: Obj) -> int:
    limit = spec.get("backoffLimit")
    return DEFAULT_BACKOFF_LIMIT if limit is None else int(limit)


def _restarts_exceed_limit(job: Obj, pods: list[Obj]) -> bool:
    """With restartPolicy OnFailure, restarts of running pods count against backoffLimit."""
    spec = job.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    if template.get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Running", "Pending"):
            for key in ("initContainerStatuses", "containerStatuses"):
                restarts += sum(int(c.get("restartCount") or 0)
                                for c in (pod.get("status") or {}).get(key) or ())
    limit = _backoff_limit(spec)
    return restarts > 0 if limit == 0 else restarts >= limit


def _deadline_left(job: Obj, now: datetime) -> float | None:
    """Seconds until activeDeadlineSeconds passes; None when no deadline runs."""
    deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
    started = (job.get("status") or {}).get("startTime")
    if deadline is None or not started or is_suspended(job):
        return None
    return float(deadline) - (now - parse_time(started)).total_seconds()


def _failure(reason: str, message: str, now: datetime) -> Obj:
    return new_condition(FAILURE_TARGET, "True", reason, message, now)


async def decide(state: SyncState, previous: BackoffRecord, now: datetime, *, satisfied: bool,
                 pods: PodControl, backoff_base: float, recorder: EventRecorder) -> Decision:
    job = state.job
    spec, status = job.get("spec") or {}, job["status"]
    uncounted = status.get("uncountedTerminatedPods") or {}
    counted_succeeded = set(uncounted.get("succeeded") or ())
    counted_failed = set(uncounted.get("failed") or ())
    new_succeeded = _newly_finished(
        state, counted_succeeded, lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    new_failed = _newly_finished(state, counted_failed, lambda p: is_pod_failed(p, job))
    succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(counted_succeeded)
    failed = int(status.get("failed") or 0) + len(new_failed) + len(counted_failed)
    active_pods = [p for p in state.pods if pod_is_active(p)]
    ready = sum(1 for p in active_pods if pod_is_ready(p))
    state.terminating = sum(1 for p in state.pods if is_being_deleted(p) and not pod_is_terminal(p))
    if not status.get("startTime") and not is_suspended(job):
        status["startTime"] = format_time(now)
    decision = Decision(next_backoff_record(previous, new_succeeded, new_failed))

    conditions = status.get("conditions") or []
    finished = get_condition(conditions, SUCCESS_CRITERIA_MET)
    finished = dict(finished) if finished and finished.get("status") == "True" else None
    if finished is None:
        target = get_condition(conditions, FAILURE_TARGET)
        if target is not None and target.get("status") == "True":
            finished = new_condition(FAILED, "True", target.get("reason", ""),
                                     target.get("message", ""), now)
    if finished is None:
        left = _deadline_left(job, now)
        if failed > _backoff_limit(spec) or _restarts_exceed_limit(job, state.pods):
            finished = _failure(BACKOFF_LIMIT_EXCEEDED,
                                "Job has reached the specified backoff limit", now)
        elif left is not None and left <= 0:
            finished = _failure(DEADLINE_EXCEEDED,
                                "Job was active longer than specified deadline", now)
        elif left is not None:
            decision.requeue(left)
    if is_indexed(job):
        completions = int(spec.get("completions") or 0)
        state.prev_succeeded_indexes = parse_indexes(status.get("completedIndexes"), completions)
        fresh = {completion_index(p) for p in new_succeeded}
        state.succeeded_indexes = state.prev_succeeded_indexes | {i for i in fresh if i is not None}
        succeeded = len(state.succeeded_indexes)

    active = len(active_pods)
    if finished is not None:
        deleted, deleted_ready, decision.error = await pods.delete_active(job, active_pods)
        if deleted != active or not satisfied:
            finished = None  # wait until every pod is gone and seen
        active -= deleted
        ready -= deleted_ready
        state.terminating += deleted
    else:
        managed = satisfied and not is_being_deleted(job)
        if managed:
            active, ready = await _manage(state, active_pods, succeeded, ready, decision, now,
                                          pods, backoff_base)
        wanted = spec.get("completions")
        complete = succeeded > 0 if wanted is None else succeeded >= int(wanted)
        if complete and active == 0:
            finished = new_condition(SUCCESS_CRITERIA_MET, "True", COMPLETIONS_REACHED,
                                     "Reached expected number of succeeded pods", now)
        elif managed:
            _suspend_condition(job, now, recorder)
    state.finished = finished
    for field, value in (("active", active), ("ready", ready)):
        if value or field == "ready":
            status[field] = value
        else:
            status.pop(field, None)
    status["terminating"] = state.terminating
    return decision


def _suspend_condition(job: Obj, now: datetime, recorder: EventRecorder) -> None:
    status = job["status"]
    conditions = status.get("conditions") or []
    if is_suspended(job):
        if ensure_condition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now):
            recorder.event(job, NORMAL, "Suspended", "Job suspended")
    elif ensure_condition(conditions, SUSPENDED, "False", "JobResumed", "Job resumed", now):
        recorder.event(job, NORMAL, "Resumed", "Job resumed")
        # activeDeadlineSeconds counts continuous activity: it starts again on resume.
        status["startTime"] = format_time(now)
    if conditions:
        status["conditions"] = conditions


async def _manage(state: SyncState, active_pods: list[Obj], succeeded: int, ready: int,
                  decision: Decision, now: datetime, pods: PodControl,
                  backoff_base: float) -> tuple[int, int]:
    """Converge the number of active pods; returns the new active and ready counts."""
    job, key = state.job, state.key
    spec = job.get("spec") or {}
    active = len(active_pods)
    if is_suspended(job):
        victims = pods_for_removal(job, active_pods, active, state.succeeded_indexes)
    else:
        parallelism = int(spec.get("parallelism") or 0)
        completions = spec.get("completions")
        if completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - succeeded, parallelism))
        victims = pods_for_removal(job, active_pods, max(active - want, 0),
                                   state.succeeded_indexes)
    if victims:
        removed, removed_ready, decision.error = await pods.remove(
            key, job, victims[:MAX_POD_CREATE_DELETE_PER_SYNC])
        state.terminating += removed
        return active - removed, ready - removed_ready
    if is_suspended(job):
        return active, ready
    waiting = state.terminating if only_replace_failed(job) else 0
    missing = min(want - waiting - active, MAX_POD_CREATE_DELETE_PER_SYNC)
    if missing <= 0:
        return active, ready
    wait = decision.backoff.remaining(now, backoff_base, MAX_BACKOFF)
    if wait > 0:
        decision.requeue(max(wait, SYNC_BATCH_PERIOD))
        return active, ready
    indexes: list[int | None]
    if is_indexed(job):
        indexes = list(first_pending_indexes(state.succeeded_indexes, active_pods, missing,
                                             int(spec.get("completions") or 0)))
    else:
        indexes = [None] * missing
    created, decision.error = await pods.create(key, job, indexes)
    return active + created, ready
