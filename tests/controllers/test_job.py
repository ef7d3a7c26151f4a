"""JobController against the recording fake client, with a fake clock for back-off and deadlines."""

from __future__ import annotations

from typing import Any

from controllers.job import JobController
from machinery.meta import format_time, get_condition
from machinery.reconciler import Requeue
from tests.controllers.batch import (
    TRACKING,
    BatchFakeClient,
    batch_context,
    events,
    job,
    job_pods,
    set_phase,
    writes_of,
)

Obj = dict[str, Any]
KEY = "default/work"


def setup(**options: Any) -> tuple[JobController, BatchFakeClient, Any]:
    ctx, client, _ = batch_context(**options)
    return JobController(ctx), client, ctx


def status(client: BatchFakeClient, name: str = "work") -> Obj:
    stored = client.stored("jobs", name, "default")
    assert stored is not None
    return dict(stored.get("status") or {})


def condition(client: BatchFakeClient, type_: str) -> Obj | None:
    return get_condition(status(client).get("conditions"), type_)


def now(ctx: Any) -> str:
    return format_time(ctx.wall())


def live(client: BatchFakeClient) -> list[Obj]:
    """The Job's pods that have not finished."""
    return [p for p in job_pods(client)
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


async def test_creates_parallelism_pods_with_finalizer_and_owner() -> None:
    controller, client, ctx = setup()
    client.seed(job(completions=5, parallelism=2))

    assert await controller.reconcile(KEY) is None

    pods = job_pods(client)
    assert len(pods) == 2
    for pod in pods:
        meta = pod["metadata"]
        assert meta["generateName"] == "work-"
        assert meta["finalizers"] == [TRACKING]
        assert meta["labels"]["batch.kubernetes.io/job-name"] == "work"
        [ref] = meta["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "Job", "work", "uid-work", True)
        assert pod["spec"]["restartPolicy"] == "Never"
    st = status(client)
    assert st == {"startTime": now(ctx), "active": 2, "ready": 0, "terminating": 0,
                  "uncountedTerminatedPods": {}}
    assert [e[1] for e in events(ctx, "job-controller")] == ["SuccessfulCreate"] * 2


async def test_reconciling_twice_writes_nothing_more() -> None:
    controller, client, _ = setup()
    client.seed(job(completions=5, parallelism=2))
    await controller.reconcile(KEY)
    before = len(client.writes())

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)

    assert len(client.writes()) == before
    assert len(job_pods(client)) == 2


async def test_runs_to_completion_counting_each_pod_once() -> None:
    controller, client, ctx = setup()
    client.seed(job(completions=3, parallelism=2))
    await controller.reconcile(KEY)
    first, second = job_pods(client)

    await set_phase(client, first, "Succeeded", now(ctx))
    await controller.reconcile(KEY)
    await controller.reconcile(KEY)

    st = status(client)
    assert st["succeeded"] == 1 and st["active"] == 2 and st["uncountedTerminatedPods"] == {}
    assert job_pods(client)[0]["metadata"].get("finalizers") is None  # counted, released
    assert len(live(client)) == 2

    for pod in job_pods(client)[1:]:
        await set_phase(client, pod, "Succeeded", now(ctx))
    await controller.reconcile(KEY)

    st = status(client)
    assert st["succeeded"] == 3 and "active" not in st and "failed" not in st
    met, complete = condition(client, "SuccessCriteriaMet"), condition(client, "Complete")
    assert met is not None and complete is not None
    assert (complete["status"], complete["reason"], complete["message"]) == (
        "True", "CompletionsReached", "Reached expected number of succeeded pods")
    assert st["completionTime"] == complete["lastTransitionTime"]
    assert [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert "Completed" in [e[1] for e in events(ctx, "job-controller")]
    assert not [p for p in job_pods(client) if p["metadata"].get("finalizers")]

    writes = len(client.writes())
    await controller.reconcile(KEY)
    assert len(client.writes()) == writes  # a finished Job is left alone


async def test_a_pod_deleted_before_it_finished_counts_as_failed_and_is_replaced() -> None:
    controller, client, _ = setup()
    client.seed(job(completions=1))
    await controller.reconcile(KEY)
    [pod] = job_pods(client)

    await client.delete("pods", pod["metadata"]["name"], "default")  # kept by the finalizer
    await controller.reconcile(KEY)

    assert status(client)["failed"] == 1
    assert client.stored("pods", pod["metadata"]["name"], "default") is None  # released
    assert len(job_pods(client)) == 0  # back-off: the replacement waits


async def test_failures_back_off_exponentially_then_exceed_the_limit() -> None:
    controller, client, ctx = setup(job_pod_failure_backoff=10.0)
    client.seed(job(completions=1, backoff_limit=2))
    await controller.reconcile(KEY)

    [pod] = job_pods(client)
    await set_phase(client, pod, "Failed", now(ctx))
    result = await controller.reconcile(KEY)
    assert result == Requeue(after=10.0)
    assert status(client)["failed"] == 1 and not live(client)

    await ctx.clock.advance(10)
    await controller.reconcile(KEY)
    [pod] = live(client)
    await ctx.clock.advance(2)
    await set_phase(client, pod, "Failed", now(ctx))
    assert await controller.reconcile(KEY) == Requeue(after=20.0)  # doubled

    await ctx.clock.advance(20)
    await controller.reconcile(KEY)
    [pod] = live(client)
    await set_phase(client, pod, "Failed", now(ctx))
    await controller.reconcile(KEY)

    st = status(client)
    assert st["failed"] == 3
    target, failed = condition(client, "FailureTarget"), condition(client, "Failed")
    assert target is not None and failed is not None
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert "completionTime" not in st
    warnings = [e for e in events(ctx, "job-controller") if e[0] == "Warning"]
    assert [e[1] for e in warnings] == ["BackoffLimitExceeded"]
    creates = len(writes_of(client, "create", "pods"))
    await ctx.clock.advance(600)
    await controller.reconcile(KEY)
    assert len(writes_of(client, "create", "pods")) == creates == 3


async def test_active_deadline_fails_the_job_and_deletes_its_pods() -> None:
    controller, client, ctx = setup()
    client.seed(job(completions=2, parallelism=2, activeDeadlineSeconds=30))

    assert await controller.reconcile(KEY) == Requeue(after=30.0)
    await ctx.clock.advance(30)
    await controller.reconcile(KEY)

    assert len(writes_of(client, "delete", "pods")) == 2
    target = condition(client, "FailureTarget")
    assert target is not None and target["reason"] == "DeadlineExceeded"
    assert status(client)["failed"] == 2
    assert condition(client, "Failed") is None  # pods were still terminating
    await controller.reconcile(KEY)
    failed = condition(client, "Failed")
    assert failed is not None
    assert failed["message"] == "Job was active longer than specified deadline"
    assert status(client)["terminating"] == 0


async def test_indexed_job_runs_one_success_per_index() -> None:
    controller, client, ctx = setup()
    client.seed(job(completions=3, parallelism=2, completionMode="Indexed"))
    await controller.reconcile(KEY)

    pods = job_pods(client)
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
                for p in pods}
    assert sorted(by_index) == ["0", "1"]
    zero = by_index["0"]
    assert zero["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
    assert zero["metadata"]["generateName"] == "work-0-"
    assert zero["spec"]["hostname"] == "work-0"
    [env] = zero["spec"]["containers"][0]["env"]
    assert env == {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1",
        "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}

    await set_phase(client, by_index["1"], "Succeeded", now(ctx))
    await controller.reconcile(KEY)
    st = status(client)
    assert st["completedIndexes"] == "1" and st["succeeded"] == 1
    indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                     for p in job_pods(client))
    assert indexes == ["0", "1", "2"]

    for pod in job_pods(client):
        await set_phase(client, pod, "Succeeded", now(ctx))
    await controller.reconcile(KEY)
    st = status(client)
    assert st["completedIndexes"] == "0-2" and st["succeeded"] == 3
    assert condition(client, "Complete") is not None


async def test_suspend_deletes_pods_and_resume_restarts_the_clock() -> None:
    controller, client, ctx = setup()
    [stored] = client.seed(job(completions=2, parallelism=2, suspend=True))
    await controller.reconcile(KEY)

    assert not job_pods(client)
    st = status(client)
    assert "startTime" not in st
    suspended = condition(client, "Suspended")
    assert suspended is not None and suspended["status"] == "True"

    await ctx.clock.advance(5)
    fresh = client.stored("jobs", "work", "default")
    assert fresh is not None
    fresh["spec"]["suspend"] = False
    await client.update("jobs", fresh)
    await controller.reconcile(KEY)

    assert len(job_pods(client)) == 2
    resumed = condition(client, "Suspended")
    assert resumed is not None and (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
    assert status(client)["startTime"] == now(ctx)
    assert [e[1] for e in events(ctx, "job-controller")].count("Resumed") == 1

    fresh = client.stored("jobs", "work", "default")
    assert fresh is not None
    fresh["spec"]["suspend"] = True
    await client.update("jobs", fresh)
    await controller.reconcile(KEY)
    assert len(writes_of(client, "delete", "pods")) == 2
    assert not job_pods(client)  # finalizers removed before deleting: no failures counted
    assert "failed" not in status(client)
    assert stored["metadata"]["uid"] == "uid-work"


async def test_counts_survive_a_restart_between_status_and_finalizer_writes() -> None:
    ctx, client, _ = batch_context()
    first = JobController(ctx)
    client.seed(job(completions=2))
    await first.reconcile(KEY)
    [pod] = job_pods(client)
    await set_phase(client, pod, "Succeeded", format_time(ctx.wall()))
    # The crash: the uid reached status, the finalizer was never removed.
    stored = client.stored("jobs", "work", "default")
    assert stored is not None
    stored["status"]["uncountedTerminatedPods"] = {"succeeded": [pod["metadata"]["uid"]]}
    await client.update_status("jobs", stored)

    restarted = JobController(ctx)  # nothing remembered: no expectations, no back-off
    await restarted.reconcile(KEY)
    await restarted.reconcile(KEY)

    st = status(client)
    assert st["succeeded"] == 1 and st["uncountedTerminatedPods"] == {}
    assert len(job_pods(client)) == 2


async def test_orphans_matching_the_selector_are_adopted_with_the_finalizer() -> None:
    controller, client, _ = setup()
    [owner] = client.seed(job(completions=1))
    labels = owner["spec"]["template"]["metadata"]["labels"]
    client.seed({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "stray", "namespace": "default", "labels": labels},
                 "spec": {"containers": [{"name": "main", "image": "x"}]},
                 "status": {"phase": "Running"}})

    await controller.reconcile(KEY)

    stray = client.stored("pods", "stray", "default")
    assert stray is not None
    assert stray["metadata"]["ownerReferences"][0]["uid"] == "uid-work"
    assert stray["metadata"]["finalizers"] == [TRACKING]
    assert not writes_of(client, "create", "pods")
    assert status(client)["active"] == 1


async def test_deleted_jobs_release_the_finalizers_of_their_pods() -> None:
    controller, client, _ = setup()
    [owner] = client.seed(job(completions=2, parallelism=2))
    await controller.reconcile(KEY)
    await client.delete("jobs", "work", "default")
    for pod in job_pods(client):
        await client.delete("pods", pod["metadata"]["name"], "default")  # the GC's doing
    assert len(job_pods(client)) == 2

    await controller.reconcile(KEY)

    assert not job_pods(client)
    assert owner["metadata"]["uid"] == "uid-work"


async def test_surplus_pods_go_without_counting_as_failures() -> None:
    controller, client, _ = setup()
    client.seed(job(completions=None, parallelism=3))
    await controller.reconcile(KEY)
    fresh = client.stored("jobs", "work", "default")
    assert fresh is not None
    fresh["spec"]["parallelism"] = 1
    await client.update("jobs", fresh)

    await controller.reconcile(KEY)

    assert len(job_pods(client)) == 1
    assert len(writes_of(client, "delete", "pods")) == 2
    assert "failed" not in status(client) and status(client)["active"] == 1


async def test_work_queue_jobs_complete_after_the_first_success() -> None:
    controller, client, ctx = setup()
    client.seed(job(completions=None, parallelism=2))
    await controller.reconcile(KEY)
    first, second = job_pods(client)

    await set_phase(client, first, "Succeeded", now(ctx))
    await controller.reconcile(KEY)
    assert len(job_pods(client)) == 2 and condition(client, "Complete") is None  # no new pod

    await set_phase(client, second, "Succeeded", now(ctx))
    await controller.reconcile(KEY)
    assert condition(client, "Complete") is not None and status(client)["succeeded"] == 2
