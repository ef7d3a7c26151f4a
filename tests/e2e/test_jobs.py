"""Jobs and CronJobs on real Docker: scheduler, controller manager and two kubelets as processes.

A Job of five completions runs at most two pods at a time and finishes with
five successes; a Job whose pod always fails stops at its backoffLimit
(with a one-second back-off) and is marked Failed; two every-minute
CronJobs start their Jobs on the minute, and the one with
``concurrencyPolicy: Forbid`` skips a run while its first Job still runs.
Deleting a Job or a CronJob (background propagation, as kubectl does) takes
its pods and their containers with it.  The CronJob test waits for real
minute boundaries, so it is bounded rather than instant (about two minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.cluster import TOOLBOX, Component, scheduler_and_controllers
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
BATCH = "/apis/batch/v1/namespaces"


@pytest.fixture(scope="module")
def control_plane(apiserver: ApiServerProcess, kubelets: dict[str, KubeletProcess],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Component]]:
    with scheduler_and_controllers(
            apiserver.url, tmp_path_factory.mktemp("jobs-control-plane"),
            ["job", "ttl-after-finished", "cronjob", "garbagecollector"],
            ["--job-pod-failure-backoff", "1"]) as started:
        yield started


@pytest.fixture
def batch_ns(pod_namespace: str, api: Api, control_plane: list[Component]) -> Iterator[str]:
    """The test namespace; CronJobs and Jobs go first on the way out, taking their pods."""
    try:
        yield pod_namespace
    finally:
        for kind in ("cronjobs", "jobs"):
            found = api.get(f"{BATCH}/{pod_namespace}/{kind}") or {}
            for obj in found.get("items") or []:
                api.delete(f"{BATCH}/{pod_namespace}/{kind}/{obj['metadata']['name']}",
                           propagationPolicy="Background")


def job_spec(kubelets: dict[str, KubeletProcess], script: str, restart: str = "Never",
             **spec: Any) -> Obj:
    """A toolbox pod running ``script``, kept on this module's two nodes."""
    nodes = sorted(k.node for k in kubelets.values())
    return {"template": {"spec": {
        "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}]}]}}},
        "containers": [{"name": "main", "image": TOOLBOX, "command": ["sh", "-c", script]}]}},
        **spec}


def until(fn: Callable[[], Obj | None], timeout: float, what: str,
          interval: float = 0.2) -> Obj:
    """``wait_for`` for a lookup: the object once found."""
    found = wait_for(fn, timeout, interval=interval, what=what)
    assert found is not None
    return found


def finished(api: Api, path: str, type_: str) -> Obj | None:
    """The object at ``path`` once its condition ``type_`` is True."""
    obj = api.get(path)
    return obj if condition(obj, type_) else None


def pods_of(api: Api, ns: str, job: str) -> list[Obj]:
    found = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector="
                    f"batch.kubernetes.io%2Fjob-name%3D{job}") or {}
    return list(found.get("items") or [])


def running(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]


def condition(obj: Obj | None, type_: str) -> Obj | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_ and cond.get("status") == "True":
            return dict(cond)
    return None


def reasons(api: Api, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in api.events(ns, name)]


def delete_and_wait_gone(api: Api, docker_cluster: DockerCluster, path: str, ns: str,
                         pods: list[Obj]) -> None:
    """Delete with background propagation; pods and their containers must all go."""
    assert api.delete(path, propagationPolicy="Background") == 200
    names = {p["metadata"]["name"] for p in pods}

    def gone() -> bool:
        left = [n for n in names if api.pod(ns, n) is not None]
        containers = [c for n in names for c in docker_cluster.containers(namespace=ns, pod=n)]
        return not left and not containers

    wait_for(gone, 60, what=f"pods of {path} and their containers gone")


def test_job_completes_five_with_at_most_two_active(
        api: Api, batch_ns: str, kubelets: dict[str, KubeletProcess],
        docker_cluster: DockerCluster) -> None:
    ns = batch_ns
    api.create(f"{BATCH}/{ns}/jobs", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "five"},
        "spec": job_spec(kubelets, "sleep 1; echo done", completions=5, parallelism=2)})
    most_pods = most_status = 0

    def complete() -> Obj | None:
        nonlocal most_pods, most_status
        most_pods = max(most_pods, len(running(pods_of(api, ns, "five"))))
        job = api.get(f"{BATCH}/{ns}/jobs/five")
        most_status = max(most_status, int(((job or {}).get("status") or {}).get("active") or 0))
        return job if condition(job, "Complete") else None

    job = until(complete, 150, "job five complete", interval=0.1)

    status = job["status"]
    assert status["succeeded"] == 5 and "failed" not in status
    assert most_pods <= 2 and most_status == 2
    pods = pods_of(api, ns, "five")
    assert len(pods) == 5 and {p["status"]["phase"] for p in pods} == {"Succeeded"}
    [container] = docker_cluster.containers(namespace=ns, pod=pods[0]["metadata"]["name"],
                                            container="main")
    assert container.logs() == b"done\n"
    events = reasons(api, ns, "five")
    assert events.count("SuccessfulCreate") == 5 and "Completed" in events

    delete_and_wait_gone(api, docker_cluster, f"{BATCH}/{ns}/jobs/five", ns, pods)


def test_failing_job_stops_at_its_backoff_limit(
        api: Api, batch_ns: str, kubelets: dict[str, KubeletProcess],
        docker_cluster: DockerCluster) -> None:
    ns = batch_ns
    api.create(f"{BATCH}/{ns}/jobs", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "doomed"},
        "spec": job_spec(kubelets, "exit 1", backoffLimit=2)})

    job = until(lambda: finished(api, f"{BATCH}/{ns}/jobs/doomed", "Failed"), 120,
                "job doomed failed")

    failed = condition(job, "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 3 and "succeeded" not in job["status"]
    time.sleep(3)  # past any back-off: no fourth pod comes
    pods = pods_of(api, ns, "doomed")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Failed"}
    assert "BackoffLimitExceeded" in reasons(api, ns, "doomed")

    delete_and_wait_gone(api, docker_cluster, f"{BATCH}/{ns}/jobs/doomed", ns, pods)


def cronjob(name: str, spec: Obj, policy: str) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": policy,
                     "jobTemplate": {"spec": spec}}}


def scheduled_at(job: Obj) -> datetime:
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_cronjobs_run_on_the_minute_and_forbid_skips_while_active(
        api: Api, batch_ns: str, kubelets: dict[str, KubeletProcess],
        docker_cluster: DockerCluster) -> None:
    ns = batch_ns
    api.create(f"{BATCH}/{ns}/cronjobs",
               cronjob("tick", job_spec(kubelets, "echo tick", "OnFailure"), "Allow"))
    api.create(f"{BATCH}/{ns}/cronjobs",
               cronjob("hold", job_spec(kubelets, "sleep 600", "OnFailure"), "Forbid"))

    def first_job(owner: str) -> Obj | None:
        found = api.get(f"{BATCH}/{ns}/jobs") or {}
        mine = [j for j in found.get("items") or []
                if j["metadata"]["ownerReferences"][0]["name"] == owner]
        return mine[0] if mine else None

    tick = until(lambda: first_job("tick"), 75, "tick's first job")
    scheduled = scheduled_at(tick)
    assert scheduled.second == 0 and tick["metadata"]["name"] == \
        f"tick-{int(scheduled.timestamp()) // 60}"
    created = datetime.fromisoformat(
        tick["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert 0 <= (created - scheduled).total_seconds() < 15  # on time
    hold = until(lambda: first_job("hold"), 20, "hold's first job")
    assert scheduled_at(hold) == scheduled

    def tick_succeeded() -> Obj | None:
        found = api.get(f"{BATCH}/{ns}/cronjobs/tick")
        return found if ((found or {}).get("status") or {}).get("lastSuccessfulTime") else None

    done = until(tick_succeeded, 60, "tick's run seen done")
    assert "SuccessfulCreate" in reasons(api, ns, "tick")
    assert "SawCompletedJob" in reasons(api, ns, "tick")
    assert done["status"]["lastScheduleTime"] >= tick["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"]

    # The next minute: hold's first Job still runs, so Forbid skips that run.
    wait_for(lambda: "JobAlreadyActive" in reasons(api, ns, "hold"),
             max(5.0, 80 - (datetime.now(timezone.utc) - scheduled).total_seconds()),
             what="hold's skipped run")
    state = api.get(f"{BATCH}/{ns}/cronjobs/hold") or {}
    [active] = state["status"]["active"]
    assert active["name"] == hold["metadata"]["name"]
    owned = [j for j in (api.get(f"{BATCH}/{ns}/jobs") or {}).get("items") or []
             if j["metadata"]["ownerReferences"][0]["name"] == "hold"]
    assert [j["metadata"]["name"] for j in owned] == [hold["metadata"]["name"]]

    pods = wait_for(lambda: pods_of(api, ns, hold["metadata"]["name"]), 10, what="hold's pod")
    delete_and_wait_gone(api, docker_cluster, f"{BATCH}/{ns}/cronjobs/hold", ns, pods)
    wait_for(lambda: api.get(f"{BATCH}/{ns}/jobs/{hold['metadata']['name']}") is None, 30,
             what="hold's job garbage-collected")
