"""CronJobController against the recording fake client; a fake clock plays the passing minutes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from controllers.cronjob import CronJobController
from machinery.meta import format_time
from machinery.reconciler import Requeue
from tests.controllers.batch import BatchFakeClient, batch_context, events, writes_of

Obj = dict[str, Any]
KEY = "default/tick"
START = datetime(2024, 1, 1, 10, 0, 30, tzinfo=timezone.utc)  # 30 s after the CronJob was made


def setup() -> tuple[CronJobController, BatchFakeClient, Any]:
    ctx, client, _ = batch_context(START)
    return CronJobController(ctx, zone=timezone.utc), client, ctx


def cronjob(schedule: str = "*/5 * * * *", *, status: Obj | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "uid": "uid-tick",
                         "creationTimestamp": "2024-01-01T10:00:00Z"},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {
                         "template": {"spec": {"restartPolicy": "OnFailure", "containers": [
                             {"name": "tick", "image": "k8py/toolbox:dev"}]}}}},
                     **spec},
            "status": status or {}}


def cron_status(client: BatchFakeClient) -> Obj:
    stored = client.stored("cronjobs", "tick", "default")
    assert stored is not None
    return dict(stored.get("status") or {})


def jobs(client: BatchFakeClient) -> list[Obj]:
    return sorted((o for (q, _, _), o in client.objects.items() if q == "jobs.batch"),
                  key=lambda j: str(j["metadata"]["name"]))


def reasons(ctx: Any) -> list[str]:
    return [e[1] for e in events(ctx, "cronjob-controller")]


async def finish(client: BatchFakeClient, job: Obj, kind: str, when: str,
                 started: str | None = None) -> None:
    fresh = await client.get("jobs", job["metadata"]["name"], "default")
    fresh["status"] = {"startTime": started or when,
                       "conditions": [{"type": kind, "status": "True",
                                       "lastTransitionTime": when}]}
    if kind == "Complete":
        fresh["status"]["completionTime"] = when
    await client.update_status("jobs", fresh)


async def test_waits_for_the_first_scheduled_time() -> None:
    controller, client, _ = setup()
    client.seed(cronjob())

    assert await controller.reconcile(KEY) == Requeue(after=270.1)
    assert not jobs(client) and not client.writes()


async def test_creates_the_job_of_each_run_on_time() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob())
    await ctx.clock.advance(270)

    result = await controller.reconcile(KEY)

    [job] = jobs(client)
    meta = job["metadata"]
    assert meta["name"] == "tick-28401725"  # 10:05 in minutes since the epoch
    assert meta["labels"] == {"app": "tick"}
    assert meta["annotations"] == {
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2024-01-01T10:05:00Z"}
    assert meta["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    st = cron_status(client)
    assert st["lastScheduleTime"] == "2024-01-01T10:05:00Z"
    [ref] = st["active"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["apiVersion"]) == (
        "Job", "tick-28401725", meta["uid"], "batch/v1")
    assert result == Requeue(after=300.1)
    assert reasons(ctx) == ["SuccessfulCreate"]


async def test_reconciling_twice_writes_nothing_more() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob())
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    before = len(client.writes())

    again = await controller.reconcile(KEY)

    assert len(client.writes()) == before
    assert again == Requeue(after=300.1)
    assert len(jobs(client)) == 1


async def test_finished_jobs_leave_the_active_list() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob())
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    [job] = jobs(client)

    await finish(client, job, "Complete", "2024-01-01T10:05:20Z")
    await controller.reconcile(KEY)

    st = cron_status(client)
    assert "active" not in st
    assert st["lastSuccessfulTime"] == "2024-01-01T10:05:20Z"
    assert "SawCompletedJob" in reasons(ctx)


async def test_forbid_skips_a_run_while_one_is_active() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(concurrencyPolicy="Forbid"))
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    await ctx.clock.advance(300)

    result = await controller.reconcile(KEY)

    assert len(jobs(client)) == 1
    assert reasons(ctx) == ["SuccessfulCreate", "JobAlreadyActive"]
    assert cron_status(client)["lastScheduleTime"] == "2024-01-01T10:05:00Z"
    assert result == Requeue(after=300.1)


async def test_replace_deletes_the_active_job_first() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(concurrencyPolicy="Replace"))
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    await ctx.clock.advance(300)

    await controller.reconcile(KEY)

    [deleted] = writes_of(client, "delete", "jobs.batch")
    assert deleted.name == "tick-28401725"
    assert deleted.options == {"propagationPolicy": "Background"}
    [ref] = cron_status(client)["active"]
    assert ref["name"] == "tick-28401730"
    assert reasons(ctx) == ["SuccessfulCreate", "SuccessfulDelete", "SuccessfulCreate"]


async def test_allow_runs_jobs_side_by_side() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob())
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    await ctx.clock.advance(300)
    await controller.reconcile(KEY)

    assert [r["name"] for r in cron_status(client)["active"]] == ["tick-28401725",
                                                                   "tick-28401730"]


async def test_runs_missed_beyond_the_starting_deadline_are_skipped() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(startingDeadlineSeconds=20))
    await ctx.clock.advance(300)  # 10:05:30: the 10:05 run is 30 s late

    result = await controller.reconcile(KEY)

    assert not jobs(client)  # the search starts at the deadline: 10:05 is not even due
    assert not reasons(ctx) and not client.writes()
    assert result == Requeue(after=270.1)
    await ctx.clock.advance(270)
    await controller.reconcile(KEY)
    assert [j["metadata"]["name"] for j in jobs(client)] == ["tick-28401730"]


async def test_more_than_a_hundred_missed_runs_warn_and_start_the_latest() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob("* * * * *", status={"lastScheduleTime": "2024-01-01T07:00:00Z"}))

    await controller.reconcile(KEY)

    assert "TooManyMissedTimes" in reasons(ctx)
    [job] = jobs(client)
    assert job["metadata"]["name"] == f"tick-{int(START.timestamp()) // 60}"  # 10:00
    assert cron_status(client)["lastScheduleTime"] == format_time(START.replace(second=0))


async def test_suspended_cronjobs_start_nothing() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(suspend=True))
    await ctx.clock.advance(600)

    assert await controller.reconcile(KEY) is None
    assert not jobs(client)


async def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1))
    for index, kind in enumerate(("Complete", "Complete", "Complete", "Failed", "Failed")):
        client.seed({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "name": f"old-{index}", "namespace": "default", "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                "uid": "uid-tick", "controller": True}]}})
        [job] = [j for j in jobs(client) if j["metadata"]["name"] == f"old-{index}"]
        await finish(client, job, kind, f"2024-01-01T09:0{index}:30Z",
                     started=f"2024-01-01T09:0{index}:00Z")

    await controller.reconcile(KEY)

    deleted = sorted(a.name or "" for a in writes_of(client, "delete", "jobs.batch"))
    assert deleted == ["old-0", "old-1", "old-3"]
    assert reasons(ctx).count("SuccessfulDelete") == 3


async def test_active_jobs_that_vanished_are_forgotten() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob(status={"active": [{"kind": "Job", "apiVersion": "batch/v1",
                                            "name": "gone", "namespace": "default",
                                            "uid": "uid-gone"}],
                                "lastScheduleTime": "2024-01-01T10:00:00Z"}))

    await controller.reconcile(KEY)

    assert "active" not in cron_status(client)
    assert reasons(ctx) == ["MissingJob"]


async def test_bad_schedules_and_zones_are_reported_not_retried() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob("61 * * * *"))
    assert await controller.reconcile(KEY) is None
    stored = client.stored("cronjobs", "tick", "default")
    assert stored is not None
    stored["spec"].update(schedule="*/5 * * * *", timeZone="Mars/Olympus")
    await client.update("cronjobs", stored)
    assert await controller.reconcile(KEY) is None
    assert reasons(ctx) == ["UnparseableSchedule", "UnknownTimeZone"]


async def test_time_zone_decides_when_a_daily_job_runs() -> None:
    controller, client, ctx = setup()
    client.seed(cronjob("0 12 * * *", timeZone="Asia/Tokyo"))  # 03:00 UTC

    result = await controller.reconcile(KEY)

    expected = (datetime(2024, 1, 2, 3, tzinfo=timezone.utc) - START).total_seconds() + 0.1
    assert result == Requeue(after=expected)
    await ctx.clock.advance(expected)
    await controller.reconcile(KEY)
    [job] = jobs(client)
    assert job["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2024-01-02T12:00:00+09:00"
