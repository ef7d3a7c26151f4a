"""Jobs and CronJobs through a real API server and ``python -m controllers``.

The controller manager runs the job, ttl-after-finished, cronjob and garbage
collector controllers with a short pod-failure back-off.  No kubelet runs:
the test plays it, writing pod phases through ``pods/status`` and finishing
deletions with a zero grace period, so every step is the API server's real
behaviour (defaults, status subresource, strategic-merge finalizer removal,
finalizers holding pods, garbage collection).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from machinery.meta import format_time, get_condition
from tests.conftest import ROOT, ApiServerProcess, free_port, wait_http
from tests.integration import polling
from tests.integration.polling import ok

pytestmark = pytest.mark.integration

T = TypeVar("T")
Obj = dict[str, Any]
MERGE = {"Content-Type": "application/merge-patch+json"}
TRACKING = "batch.kubernetes.io/job-tracking"


@pytest.fixture(scope="module")
def manager(apiserver: ApiServerProcess) -> Iterator[subprocess.Popen[bytes]]:
    health = free_port()
    log = tempfile.NamedTemporaryFile(prefix="k8py-jobs-controllers-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controllers", "--master", apiserver.url, "--no-leader-elect",
         "--controllers", "job,ttl-after-finished,cronjob,garbagecollector",
         "--job-pod-failure-backoff", "0.2", "--health-address", "127.0.0.1",
         "--health-port", str(health)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log,
        stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{health}/readyz", 30, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15):
            print(Path(log.name).read_text(errors="replace")[-5000:])


@pytest.fixture
def api(apiserver: ApiServerProcess, manager: subprocess.Popen[bytes]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as client:
        yield client


def eventually(fn: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """``polling.eventually`` with the longer default a job's pods need."""
    return polling.eventually(fn, timeout, what)


def job_manifest(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "k8py/toolbox:dev"}]}}, **spec}}


def jobs_path(ns: str, name: str = "") -> str:
    return f"/apis/batch/v1/namespaces/{ns}/jobs" + (f"/{name}" if name else "")


def pods_of(api: httpx.Client, ns: str, job: str) -> list[Obj]:
    found = ok(api.get(f"/api/v1/namespaces/{ns}/pods",
                       params={"labelSelector": f"batch.kubernetes.io/job-name={job}"}))
    return sorted(found["items"], key=lambda p: p["metadata"]["creationTimestamp"])


def pods_when(api: httpx.Client, ns: str, job: str, count: int) -> list[Obj] | None:
    """The Job's pods once there are ``count`` of them."""
    pods = pods_of(api, ns, job)
    return pods if len(pods) == count else None


def unfinished(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]


def finish_pod(api: httpx.Client, pod: Obj, phase: str) -> None:
    """What a kubelet reports when the pod's only container exits."""
    stamp = format_time(datetime.now(timezone.utc))
    code = 0 if phase == "Succeeded" else 1
    status = {"phase": phase,
              "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": stamp}],
              "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0,
                                     "image": "k8py/toolbox:dev", "imageID": "",
                                     "state": {"terminated": {"exitCode": code,
                                                              "startedAt": stamp,
                                                              "finishedAt": stamp}}}]}
    meta = pod["metadata"]
    ok(api.patch(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                 json={"status": status}, headers=MERGE))


def condition(api: httpx.Client, ns: str, name: str, type_: str) -> Obj | None:
    found = api.get(jobs_path(ns, name))
    if found.status_code != 200:
        return None
    cond = get_condition((found.json().get("status") or {}).get("conditions"), type_)
    return cond if cond and cond.get("status") == "True" else None


def reasons(api: httpx.Client, ns: str, name: str) -> list[str]:
    found = ok(api.get(f"/api/v1/namespaces/{ns}/events",
                       params={"fieldSelector": f"involvedObject.name={name}"}))
    return [e["reason"] for e in found["items"]]


def test_job_runs_its_completions_at_most_parallelism_at_a_time(api: httpx.Client,
                                                                namespace: str) -> None:
    ok(api.post(jobs_path(namespace), json=job_manifest("count", completions=4, parallelism=2)))
    most = 0

    def step() -> Obj | None:
        nonlocal most
        running = unfinished(pods_of(api, namespace, "count"))
        most = max(most, len(running))
        for pod in running[:1]:
            finish_pod(api, pod, "Succeeded")
        return condition(api, namespace, "count", "Complete")

    complete = eventually(step, 30, "job complete")
    job = ok(api.get(jobs_path(namespace, "count")))
    status = job["status"]
    assert most == 2
    assert status["succeeded"] == 4 and status.get("failed") is None
    assert status["uncountedTerminatedPods"] == {} and status["ready"] == 0
    assert status["completionTime"] == complete["lastTransitionTime"]
    assert complete["reason"] == "CompletionsReached"
    assert condition(api, namespace, "count", "SuccessCriteriaMet") is not None
    pods = pods_of(api, namespace, "count")
    assert len(pods) == 4
    assert all(TRACKING not in (p["metadata"].get("finalizers") or []) for p in pods)
    eventually(lambda: "Completed" in reasons(api, namespace, "count"), 10, "Completed event")
    assert reasons(api, namespace, "count").count("SuccessfulCreate") == 4


def test_failing_pods_stop_at_the_backoff_limit(api: httpx.Client, namespace: str) -> None:
    ok(api.post(jobs_path(namespace), json=job_manifest("fail", backoffLimit=1)))

    def step() -> Obj | None:
        for pod in unfinished(pods_of(api, namespace, "fail")):
            finish_pod(api, pod, "Failed")
        return condition(api, namespace, "fail", "Failed")

    failed = eventually(step, 30, "job failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert ok(api.get(jobs_path(namespace, "fail")))["status"]["failed"] == 2
    time.sleep(1)  # well past the 0.2 s back-off: no further pod comes
    assert len(pods_of(api, namespace, "fail")) == 2
    assert condition(api, namespace, "fail", "FailureTarget") is not None


def test_indexed_pods_carry_their_index(api: httpx.Client, namespace: str) -> None:
    ok(api.post(jobs_path(namespace), json=job_manifest(
        "idx", completions=3, parallelism=3, completionMode="Indexed")))
    pods = eventually(lambda: pods_when(api, namespace, "idx", 3), 20, "3 pods")
    index_of = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
                for p in pods}
    assert sorted(index_of) == ["0", "1", "2"]
    for index, pod in index_of.items():
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert pod["spec"]["hostname"] == f"idx-{index}"
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        [env] = pod["spec"]["containers"][0]["env"]
        assert env["name"] == "JOB_COMPLETION_INDEX"
    finish_pod(api, index_of["2"], "Succeeded")
    eventually(lambda: ok(api.get(jobs_path(namespace, "idx")))["status"].get(
        "completedIndexes") == "2", 20, "index 2 completed")
    finish_pod(api, index_of["0"], "Succeeded")
    finish_pod(api, index_of["1"], "Succeeded")
    eventually(lambda: condition(api, namespace, "idx", "Complete"), 20, "indexed job complete")
    assert ok(api.get(jobs_path(namespace, "idx")))["status"]["completedIndexes"] == "0-2"


def test_ttl_after_finished_deletes_the_job_and_its_pods(api: httpx.Client,
                                                         namespace: str) -> None:
    ok(api.post(jobs_path(namespace), json=job_manifest("brief", ttlSecondsAfterFinished=1)))
    [pod] = eventually(lambda: pods_of(api, namespace, "brief"), 20, "pod")
    finish_pod(api, pod, "Succeeded")
    eventually(lambda: condition(api, namespace, "brief", "Complete"), 20, "complete")

    eventually(lambda: api.get(jobs_path(namespace, "brief")).status_code == 404, 20,
               "job deleted by its TTL")
    name = pod["metadata"]["name"]

    def pod_gone() -> bool:
        found = api.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        if found.status_code == 404:
            return True
        if found.json()["metadata"].get("deletionTimestamp"):  # the kubelet's last step
            api.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}",
                        json={"gracePeriodSeconds": 0})
        return False

    eventually(pod_gone, 20, "pod garbage-collected")


def test_deleting_a_job_releases_its_running_pods(api: httpx.Client, namespace: str) -> None:
    ok(api.post(jobs_path(namespace), json=job_manifest("gone", completions=2, parallelism=2)))
    pods = eventually(lambda: pods_when(api, namespace, "gone", 2), 20, "pods")
    assert all(TRACKING in p["metadata"]["finalizers"] for p in pods)

    api.request("DELETE", jobs_path(namespace, "gone"), json={"propagationPolicy": "Background"})

    def all_gone() -> bool:
        left = pods_of(api, namespace, "gone")
        for pod in left:  # as the kubelet does once the containers stopped
            if pod["metadata"].get("deletionTimestamp"):
                api.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/"
                            f"{pod['metadata']['name']}", json={"gracePeriodSeconds": 0})
        return not left

    eventually(all_gone, 30, "pods released and deleted")


def test_cronjob_starts_the_most_recent_missed_run(api: httpx.Client, namespace: str) -> None:
    path = f"/apis/batch/v1/namespaces/{namespace}/cronjobs"
    ok(api.post(path, json={
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "*/1 * * * *", "suspend": True, "timeZone": "UTC",
                 "jobTemplate": {"metadata": {"labels": {"app": "tick"}},
                                 "spec": job_manifest("x")["spec"]}}}))
    # As if the controller had been down: the last run was three minutes ago.
    past = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=3)
    current = ok(api.get(f"{path}/tick"))
    current["status"] = {"lastScheduleTime": format_time(past)}
    ok(api.put(f"{path}/tick/status", json=current))
    ok(api.patch(f"{path}/tick", json={"spec": {"suspend": False}}, headers=MERGE))

    active = eventually(lambda: (ok(api.get(f"{path}/tick")).get("status") or {}).get("active"),
                        20, "a job started")
    [ref] = active
    job = ok(api.get(jobs_path(namespace, ref["name"])))
    scheduled = datetime.fromisoformat(
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .replace("Z", "+00:00"))
    assert ref["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    assert scheduled > past and scheduled <= datetime.now(timezone.utc)
    assert job["metadata"]["labels"]["app"] == "tick"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    [pod] = eventually(lambda: pods_of(api, namespace, ref["name"]), 20, "the run's pod")
    finish_pod(api, pod, "Succeeded")
    status = eventually(lambda: (s := ok(api.get(f"{path}/tick"))["status"]).get(
        "lastSuccessfulTime") and not s.get("active") and s, 30, "run seen complete")
    assert status["lastScheduleTime"] == format_time(scheduled)
    assert "SawCompletedJob" in reasons(api, namespace, "tick")
