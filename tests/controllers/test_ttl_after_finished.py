"""TTLAfterFinishedController: finished Jobs with a TTL are deleted when it runs out, not before."""

from __future__ import annotations

from typing import Any

from controllers.job import TTLAfterFinishedController
from machinery.meta import format_time
from machinery.reconciler import Requeue
from tests.controllers.batch import BatchFakeClient, batch_context, job, writes_of

KEY = "default/work"


def setup() -> tuple[TTLAfterFinishedController, BatchFakeClient, Any]:
    ctx, client, _ = batch_context()
    return TTLAfterFinishedController(ctx), client, ctx


def finished_job(ctx: Any, ttl: int | None, kind: str = "Complete") -> dict[str, Any]:
    spec: dict[str, Any] = {} if ttl is None else {"ttlSecondsAfterFinished": ttl}
    made = job(**spec)
    made["status"] = {"conditions": [{"type": kind, "status": "True",
                                      "lastTransitionTime": format_time(ctx.wall())}]}
    return made


async def test_a_finished_job_is_deleted_once_its_ttl_passed() -> None:
    controller, client, ctx = setup()
    [stored] = client.seed(finished_job(ctx, 60))
    await ctx.clock.advance(15)

    assert await controller.reconcile(KEY) == Requeue(after=45.0)
    assert not client.writes()

    await ctx.clock.advance(45)
    assert await controller.reconcile(KEY) is None

    [deleted] = writes_of(client, "delete", "jobs.batch")
    assert deleted.options == {"propagationPolicy": "Background",
                               "preconditions": {"resourceVersion":
                                                 stored["metadata"]["resourceVersion"]}}
    assert client.stored("jobs", "work", "default") is None


async def test_failed_jobs_expire_too_and_a_second_pass_does_nothing() -> None:
    controller, client, ctx = setup()
    client.seed(finished_job(ctx, 0, kind="Failed"))

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)

    assert len(writes_of(client, "delete", "jobs.batch")) == 1


async def test_jobs_without_ttl_or_still_running_are_kept() -> None:
    controller, client, ctx = setup()
    client.seed(finished_job(ctx, None))
    await ctx.clock.advance(3600)
    assert await controller.reconcile(KEY) is None
    running = job("busy", ttlSecondsAfterFinished=0)
    client.seed(running)
    assert await controller.reconcile("default/busy") is None
    assert not client.writes()
    assert len(controller.queue) == 0  # neither was ever enqueued


async def test_a_raised_ttl_read_fresh_postpones_the_deletion() -> None:
    controller, client, ctx = setup()
    client.seed(finished_job(ctx, 10))
    await ctx.clock.advance(10)
    client.factory = None  # the cache misses the edit below
    stored = await client.get("jobs", "work", "default")
    stored["spec"]["ttlSecondsAfterFinished"] = 100
    await client.update("jobs", stored)

    assert await controller.reconcile(KEY) == Requeue(after=90.0)
    assert not writes_of(client, "delete", "jobs.batch")
