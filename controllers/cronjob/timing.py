"""When a CronJob is due, when to look at it again, and the Job each run creates.

From ``pkg/controller/cronjob/utils.go``: scheduling starts at the last
scheduled time (or the CronJob's creation), never earlier than
``startingDeadlineSeconds`` ago; the controller only ever starts the *most
recent* unmet time, and counts how many it missed so that more than 100
earns a warning.  Walking every missed time could take forever after a
long outage, so past 100 the most recent one is found by stepping back
from now in doubling strides instead.

A run's Job is named ``<cronjob>-<scheduled time in minutes since the
epoch>`` -- the name is the lock that keeps one scheduled time from ever
making two Jobs -- and carries the template's labels and annotations, plus
``batch.kubernetes.io/cronjob-scheduled-timestamp`` (RFC 3339 in the
schedule's zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from controllers.cronjob.schedule import CronSchedule
from machinery.meta import deepcopy_json, owner_reference, parse_time

__all__ = ["MANY_MISSED", "NEXT_SCHEDULE_DELTA", "SCHEDULED_TIMESTAMP", "Unmet",
           "earliest_time", "unmet", "next_delay", "job_name", "job_for", "rfc3339_in"]

Obj = dict[str, Any]

MANY_MISSED = 100
# Wake a little after the scheduled second, so clock skew never wakes us just before it.
NEXT_SCHEDULE_DELTA = 0.1
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


@dataclass(frozen=True)
class Unmet:
    """The most recent scheduled time not yet started (None: nothing due) and how many were due."""

    latest: datetime | None
    count: int


def earliest_time(cronjob: Obj, now: datetime, *, with_deadline: bool) -> datetime:
    """Where the search for unmet times starts."""
    meta, status = cronjob["metadata"], cronjob.get("status") or {}
    stamp = status.get("lastScheduleTime") or meta.get("creationTimestamp")
    earliest = parse_time(stamp) if stamp else now
    deadline = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    return earliest


def _latest_by_striding(schedule: CronSchedule, not_before: datetime, now: datetime,
                        stride: timedelta) -> datetime:
    """The last firing <= ``now``, knowing one exists at or after ``not_before``."""
    back = stride
    while True:
        start = max(now - back, not_before - timedelta(seconds=1))
        found = schedule.next(start)
        if found is not None and found <= now:
            break
        back *= 2
    while (following := schedule.next(found)) is not None and following <= now:
        found = following
    return found


def unmet(schedule: CronSchedule, earliest: datetime, now: datetime) -> Unmet:
    """Unmet scheduled times in ``(earliest, now]``."""
    first = schedule.next(earliest)
    if first is None or first > now:
        return Unmet(None, 0)
    latest, count = first, 1
    while count <= MANY_MISSED:
        following = schedule.next(latest)
        if following is None or following > now:
            return Unmet(latest, count)
        latest, count = following, count + 1
    second = schedule.next(first)
    stride = max((second - first) if second else timedelta(minutes=1), timedelta(minutes=1))
    return Unmet(_latest_by_striding(schedule, latest, now, stride), count)


def next_delay(cronjob: Obj, schedule: CronSchedule, now: datetime) -> float | None:
    """Seconds until the next scheduled time after the latest one already due (None: never)."""
    earliest = earliest_time(cronjob, now, with_deadline=False)
    due = unmet(schedule, earliest, now)
    following = schedule.next(due.latest or earliest)
    if following is None:
        return None
    return max((following - now).total_seconds(), 0.0) + NEXT_SCHEDULE_DELTA


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def rfc3339_in(when: datetime, zone: tzinfo) -> str:
    """Go's ``time.RFC3339`` rendering in ``zone``: ``Z`` for a zero offset, else the offset."""
    local = when.astimezone(zone)
    if not local.utcoffset():
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def job_for(cronjob: Obj, scheduled: datetime, zone: tzinfo) -> Obj:
    """The Job one run of ``cronjob`` creates for ``scheduled``."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = rfc3339_in(scheduled, zone)
    meta: Obj = {"name": job_name(cronjob, scheduled),
                 "namespace": cronjob["metadata"].get("namespace"),
                 "annotations": annotations,
                 "ownerReferences": [owner_reference(cronjob)]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": deepcopy_json(template.get("spec") or {})}
