"""Pure helpers of the Job controller: conditions, completion indexes, failure back-off.

Kept free of I/O so the rules that decide a Job's fate -- when a pod counts
as failed, which indexes still need a pod, how long to wait after failures
(``pkg/controller/job/backoff_utils.go``: 10 s doubling per consecutive
failure, capped at six minutes, measured from when the last failed pod
finished) -- are unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from machinery.meta import annotations as annotations_of
from machinery.meta import format_time, get_condition, is_being_deleted, parse_time

__all__ = [
    "JOB_TRACKING_FINALIZER", "COMPLETION_INDEX", "COMPLETION_INDEX_ENV", "JOB_NAME_LABELS",
    "COMPLETE", "FAILED", "FAILURE_TARGET", "SUCCESS_CRITERIA_MET", "SUSPENDED",
    "DEFAULT_BACKOFF", "MAX_BACKOFF",
    "finished_type", "is_finished", "new_condition", "ensure_condition", "is_indexed",
    "is_suspended", "only_replace_failed", "completion_index", "parse_indexes",
    "format_indexes", "first_pending_indexes", "is_pod_failed", "pod_finished_time",
    "has_tracking_finalizer", "BackoffRecord", "next_backoff_record",
]

Obj = dict[str, Any]

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")

COMPLETE = "Complete"
FAILED = "Failed"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
SUSPENDED = "Suspended"

DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


# -- the Job object ---------------------------------------------------------------------


def _spec(job: Obj) -> Obj:
    return job.get("spec") or {}


def finished_type(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` once a terminal condition is True, else None."""
    for cond in (job.get("status") or {}).get("conditions") or ():
        if cond.get("type") in (COMPLETE, FAILED) and cond.get("status") == "True":
            return str(cond["type"])
    return None


def is_finished(job: Obj) -> bool:
    return finished_type(job) is not None


def is_indexed(job: Obj) -> bool:
    return _spec(job).get("completionMode") == "Indexed"


def is_suspended(job: Obj) -> bool:
    return _spec(job).get("suspend") is True


def only_replace_failed(job: Obj) -> bool:
    """Whether replacements wait until a terminating pod is really gone (podReplacementPolicy)."""
    spec = _spec(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {"type": type_, "status": status, "lastProbeTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def ensure_condition(conditions: list[Obj], type_: str, status: str, reason: str,
                     message: str, now: datetime) -> bool:
    """Set a condition as ``ensureJobConditionStatus`` does; True when the list changed.

    A condition that does not exist yet is never added as False: going from
    nothing to False says nothing.
    """
    current = get_condition(conditions, type_)
    if current is not None:
        if (current.get("status"), current.get("reason"), current.get("message")) == (
                status, reason, message):
            return False
        current.clear()
        current.update(new_condition(type_, status, reason, message, now))
        return True
    if status == "False":
        return False
    conditions.append(new_condition(type_, status, reason, message, now))
    return True


# -- completion indexes ------------------------------------------------------------------


def completion_index(pod: Obj) -> int | None:
    """The pod's index from its annotation; None when missing or malformed."""
    raw = annotations_of(pod).get(COMPLETION_INDEX)
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """``status.completedIndexes`` (``"1,3-5"``) as a set, ignoring what is out of range."""
    found: set[int] = set()
    for part in (text or "").split(","):
        low, sep, high = part.partition("-")
        if not low.strip().isdigit() or (sep and not high.strip().isdigit()):
            continue
        start, end = int(low), int(high) if sep else int(low)
        found.update(range(start, min(end, completions - 1) + 1))
    return found


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as ranges: ``[1, 3, 4, 5]`` -> ``"1,3-5"``."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def first_pending_indexes(succeeded: set[int], active: Iterable[Obj], count: int,
                          completions: int) -> list[int]:
    """The lowest ``count`` indexes that neither succeeded nor have an active pod."""
    taken = set(succeeded)
    taken.update(i for i in (completion_index(p) for p in active) if i is not None)
    pending: list[int] = []
    for index in range(completions):
        if len(pending) >= count:
            break
        if index not in taken:
            pending.append(index)
    return pending


# -- pods ----------------------------------------------------------------------------------


def has_tracking_finalizer(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it could succeed.

    Counting a deleted pod as failed covers orphans that never reach the
    Failed phase because their node went away.
    """
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return is_being_deleted(pod) and phase != "Succeeded"


def pod_finished_time(pod: Obj) -> datetime:
    """When a pod finished: its containers' end, Ready turning False, deletion, or creation."""
    status = pod.get("status") or {}
    latest: datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            latest = None
            break
        when = parse_time(finished)
        latest = when if latest is None or when > latest else latest
    if latest is not None:
        return latest
    ready = get_condition(status.get("conditions"), "Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return parse_time(ready["lastTransitionTime"])
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        grace = int(meta.get("deletionGracePeriodSeconds") or 0)
        return parse_time(meta["deletionTimestamp"]) - timedelta(seconds=grace)
    return parse_time(meta.get("creationTimestamp") or "1970-01-01T00:00:00Z")


# -- pod failure back-off --------------------------------------------------------------------


@dataclass(frozen=True)
class BackoffRecord:
    """Consecutive failures since the last success, and when the last of them happened."""

    failures: int = 0
    last_failure: datetime | None = None

    def remaining(self, now: datetime, base: float = DEFAULT_BACKOFF,
                  cap: float = MAX_BACKOFF) -> float:
        """Seconds until a replacement pod may be created (0 when it may be now)."""
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = base
        for _ in range(1, self.failures):
            delay *= 2
            if delay >= cap:
                delay = cap
                break
        elapsed = (now - self.last_failure).total_seconds()
        return max(0.0, delay - elapsed)


def next_backoff_record(previous: BackoffRecord, succeeded: list[Obj],
                        failed: list[Obj]) -> BackoffRecord:
    """Fold newly finished pods into the record: a success resets the failure streak."""
    failed_times = sorted(pod_finished_time(p) for p in failed)
    if not succeeded:
        if not failed_times:
            return previous
        return BackoffRecord(previous.failures + len(failed_times), failed_times[-1])
    last_success = max(pod_finished_time(p) for p in succeeded)
    after = [t for t in failed_times if t > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)
