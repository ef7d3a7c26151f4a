"""The CronJob controller: create a Job at each scheduled time, and keep the history short.

Follows ``pkg/controller/cronjob/cronjob_controllerv2.go``.  A sync reads the
CronJob and the Jobs it controls from the caches, deletes finished Jobs
beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit``, settles
``status.active`` (finished Jobs leave it, vanished ones too), and -- unless
suspended -- starts the most recent unmet scheduled time (the search never
looks further back than ``startingDeadlineSeconds``, so older runs are
skipped): not when it already ran, nor under
``concurrencyPolicy: Forbid`` while a Job is active; under ``Replace`` the
active Jobs are deleted first.  Every sync ends with ``Requeue`` at the next
scheduled time, so no timer lives outside the work queue and a restarted
controller picks up where the status says it was.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from controllers.base import (
    CONTROLLER_UID_INDEX,
    QueueController,
    controller_uid_index,
    ensure_index,
)
from controllers.cronjob.schedule import CronError, load_zone, local_zone, parse_schedule
from controllers.cronjob.timing import (
    MANY_MISSED,
    earliest_time,
    job_for,
    job_name,
    next_delay,
    unmet,
)
from controllers.manager import ControllerContext
from machinery import errors
from machinery.events import NORMAL, WARNING
from machinery.informer import DeletedFinalStateUnknown
from machinery.meta import (
    deepcopy_json,
    format_time,
    get_condition,
    get_controller_of,
    parse_time,
)
from machinery.reconciler import Requeue

__all__ = ["CronJobController", "finished_condition"]

Obj = dict[str, Any]


def finished_condition(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` once the Job finished."""
    for cond in (job.get("status") or {}).get("conditions") or ():
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def _reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"],
            "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion")}


def _start_order(job: Obj) -> tuple[int, str, str]:
    started = (job.get("status") or {}).get("startTime")
    return (0 if started else 1, str(started or ""), str(job["metadata"]["name"]))


class CronJobController(QueueController):
    """Starts the Jobs of batch/v1 CronJobs on schedule."""

    def __init__(self, ctx: ControllerContext, *, zone: tzinfo | None = None) -> None:
        self.cronjob_informer = ctx.informers.informer("cronjobs")
        self.job_informer = ctx.informers.informer("jobs")
        super().__init__("cronjob", [self.cronjob_informer, self.job_informer], clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.zone = zone or local_zone()
        self.recorder = ctx.recorder("cronjob-controller")
        ensure_index(self.job_informer, CONTROLLER_UID_INDEX, controller_uid_index)
        self.cronjob_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new))
        self.job_informer.add_handler(self._job_changed, self._job_updated, self._job_changed)

    def _owner(self, job: Obj) -> Obj | None:
        ref = get_controller_of(job)
        if ref is None or ref.get("kind") != "CronJob":
            return None
        owner = self.cronjob_informer.get(f"{job['metadata'].get('namespace')}/{ref.get('name')}")
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def _job_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        job = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        owner = self._owner(job)
        if owner is not None:
            self.enqueue(owner)

    def _job_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        self._job_changed(old)
        self._job_changed(new)

    # -- reconcile --------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.cronjob_informer.get(key)
        if cached is None:
            return None
        cronjob = deepcopy_json(cached)
        cronjob.setdefault("status", {})
        original = deepcopy_json(cronjob["status"])
        namespace = cronjob["metadata"].get("namespace")
        jobs = [j for j in self.job_informer.indexer.by_index(
            CONTROLLER_UID_INDEX, str(cronjob["metadata"].get("uid")))
            if j["metadata"].get("namespace") == namespace]
        await self._cleanup_finished(cronjob, jobs)
        delay: float | None = None
        failure: Exception | None = None
        try:
            cronjob, delay = await self._sync(cronjob, jobs)
        except errors.ApiError as exc:
            failure = exc
        if cronjob["status"] != original:
            await self.client.update_status("cronjobs", cronjob)
        if delay is not None:
            return Requeue(after=delay)
        if failure is not None:
            raise failure
        return None

    async def _delete_job(self, cronjob: Obj, job: Obj) -> bool:
        meta = job["metadata"]
        try:
            await self.client.delete("jobs", meta["name"], meta.get("namespace"),
                                     propagation_policy="Background")
        except errors.NotFound:
            pass
        except errors.ApiError as exc:
            self.recorder.event(cronjob, WARNING, "FailedDelete", f"Deleted job: {exc.message}")
            return False
        self._drop_active(cronjob, meta.get("uid"))
        self.recorder.event(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {meta['name']}")
        return True

    @staticmethod
    def _drop_active(cronjob: Obj, uid: Any) -> None:
        status = cronjob["status"]
        kept = [r for r in status.get("active") or [] if r.get("uid") != uid]
        if kept:
            status["active"] = kept
        else:
            status.pop("active", None)

    async def _cleanup_finished(self, cronjob: Obj, jobs: list[Obj]) -> None:
        """Delete the oldest finished Jobs beyond the history limits."""
        spec = cronjob.get("spec") or {}
        for kind, limit_field in (("Complete", "successfulJobsHistoryLimit"),
                                  ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            done = sorted((j for j in jobs if finished_condition(j) == kind), key=_start_order)
            for job in done[:max(len(done) - int(limit), 0)]:
                await self._delete_job(cronjob, job)

    async def _settle_active(self, cronjob: Obj, jobs: list[Obj]) -> Obj:
        """Bring ``status.active`` and ``lastSuccessfulTime`` in line with the Jobs."""
        status = cronjob["status"]
        children = {j["metadata"].get("uid") for j in jobs}
        for job in jobs:
            uid, name = job["metadata"].get("uid"), job["metadata"]["name"]
            active = any(r.get("uid") == uid for r in status.get("active") or [])
            finished = finished_condition(job)
            if not active and finished is None:
                meta = cronjob["metadata"]
                fresh = await self.client.get("cronjobs", meta["name"], meta.get("namespace"))
                fresh_active = (fresh.get("status") or {}).get("active") or []
                if any(r.get("uid") == uid for r in fresh_active):
                    cronjob, status = fresh, fresh.setdefault("status", {})
                    continue
                self.recorder.event(cronjob, WARNING, "UnexpectedJob", "Saw a job that the "
                                    f"controller did not create or forgot: {name}")
            elif active and finished is not None:
                self._drop_active(cronjob, uid)
                self.recorder.event(cronjob, NORMAL, "SawCompletedJob",
                                    f"Saw completed job: {name}, status: {finished}")
            completed = get_condition((job.get("status") or {}).get("conditions"), "Complete")
            when = (job.get("status") or {}).get("completionTime")
            if completed and completed.get("status") == "True" and when:
                last = status.get("lastSuccessfulTime")
                if last is None or parse_time(when) > parse_time(last):
                    status["lastSuccessfulTime"] = when
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            try:  # the cache may just be late: ask the API server before forgetting it
                await self.client.get("jobs", ref["name"], ref.get("namespace"))
            except errors.NotFound:
                self.recorder.event(cronjob, NORMAL, "MissingJob",
                                    f"Active job went missing: {ref['name']}")
                self._drop_active(cronjob, ref.get("uid"))
        return cronjob

    async def _sync(self, cronjob: Obj, jobs: list[Obj]) -> tuple[Obj, float | None]:
        """Start the due run if allowed; the (possibly refreshed) CronJob and the next wake-up."""
        cronjob = await self._settle_active(cronjob, jobs)
        spec, status = cronjob.get("spec") or {}, cronjob["status"]
        if cronjob["metadata"].get("deletionTimestamp"):
            return cronjob, None
        zone = self.zone
        if spec.get("timeZone") is not None:
            try:
                zone = load_zone(str(spec["timeZone"]))
            except CronError as exc:
                self.recorder.event(cronjob, WARNING, "UnknownTimeZone",
                                    f'invalid timeZone: "{spec["timeZone"]}": {exc}')
                return cronjob, None
        if spec.get("suspend") is True:
            return cronjob, None
        schedule_text = str(spec.get("schedule") or "")
        if "TZ" in schedule_text:
            self.recorder.event(cronjob, WARNING, "UnsupportedSchedule",
                                f'CRON_TZ or TZ used in schedule "{schedule_text}" is not '
                                "officially supported")
        try:
            schedule = parse_schedule(schedule_text, zone)
        except CronError as exc:
            self.recorder.event(cronjob, WARNING, "UnparseableSchedule",
                                f'unparseable schedule: "{schedule_text}" : {exc}')
            return cronjob, None
        now: datetime = self.wall()
        delay = next_delay(cronjob, schedule, now)
        due = unmet(schedule, earliest_time(cronjob, now, with_deadline=True), now)
        if due.latest is None:
            return cronjob, delay
        scheduled = due.latest
        if due.count > MANY_MISSED:
            self.recorder.event(cronjob, WARNING, "TooManyMissedTimes",
                                "too many missed start times. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        name = job_name(cronjob, scheduled)
        last = status.get("lastScheduleTime")
        if (any(r.get("name") == name for r in status.get("active") or [])
                or (last and parse_time(last) == scheduled)):
            return cronjob, delay
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.event(cronjob, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and "
                                "concurrency policy is Forbid")
            return cronjob, delay
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    running = await self.client.get("jobs", ref["name"], ref.get("namespace"))
                except errors.ApiError as exc:
                    self.recorder.event(cronjob, WARNING, "FailedGet", f"Get job: {exc.message}")
                    raise
                if not await self._delete_job(cronjob, running):
                    raise errors.InternalError(f"could not replace job {ref['name']}")
        created = await self._create(cronjob, job_for(cronjob, scheduled, zone))
        if created is None:
            return cronjob, delay
        status.setdefault("active", []).append(_reference(created))
        status["lastScheduleTime"] = format_time(scheduled)
        return cronjob, delay

    async def _create(self, cronjob: Obj, job: Obj) -> Obj | None:
        """Create the run's Job; an existing one of ours that is not active yet is taken as made."""
        meta = job["metadata"]
        try:
            created = await self.client.create("jobs", job)
        except errors.AlreadyExists:
            existing = await self.client.get("jobs", meta["name"], meta.get("namespace"))
            ref = get_controller_of(existing)
            if ref is None or ref.get("uid") != cronjob["metadata"].get("uid"):
                return None  # someone else's Job: they keep its status
            if any(r.get("uid") == existing["metadata"].get("uid")
                   for r in cronjob["status"].get("active") or []):
                return None
            return existing
        except errors.ApiError as exc:
            self.recorder.event(cronjob, WARNING, "FailedCreate",
                                f"Error creating job: {exc.message}")
            raise
        self.recorder.event(cronjob, NORMAL, "SuccessfulCreate",
                            f"Created job {created['metadata']['name']}")
        return created
