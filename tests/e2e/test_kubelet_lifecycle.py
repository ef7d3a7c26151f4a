"""Container lifecycles on real Docker: crash loops, probes, OOM, pulls and deletion.

The kubelets here run with a 2 s first crash-loop back-off (doubling, 20 s
cap) and probes use 1 s periods, so each test takes seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from machinery.meta import parse_time
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for
from tests.e2e.test_kubelet_pods import DEBIAN, HELLO, condition, exec_in, phase_is, pod

pytestmark = pytest.mark.e2e


def status_of(api: Api, ns: str, name: str, container: str) -> dict[str, Any]:
    found = api.pod(ns, name) or {}
    for cs in found.get("status", {}).get("containerStatuses") or []:
        if cs["name"] == container:
            return dict(cs)
    return {}


def reasons(api: Api, ns: str, name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in api.events(ns, name):
        out.setdefault(event["reason"], []).append(event["message"])
    return out


def test_crashing_container_restarts_with_growing_delays(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n1"].node
    api.create_pod(ns, pod("crash", node, [
        {"name": "app", "image": DEBIAN, "command": ["sh", "-c", "sleep 0.3; exit 3"]}]))
    messages: list[str] = []

    def restarts() -> int:
        cs = status_of(api, ns, "crash", "app")
        waiting = cs.get("state", {}).get("waiting", {})
        if waiting.get("reason") == "CrashLoopBackOff" and waiting["message"] not in messages:
            messages.append(waiting["message"])
            assert cs["lastState"]["terminated"]["exitCode"] == 3
            assert cs["lastState"]["terminated"]["reason"] == "Error"
        return int(cs.get("restartCount", 0))

    wait_for(lambda: restarts() >= 3 and len(messages) >= 2, 60, interval=0.1,
             what="three restarts")
    # The back-off doubles: 2 s after the second exit, 4 s after the third.
    assert messages[0].startswith("back-off 2s restarting failed container=app pod=crash_")
    assert messages[1].startswith("back-off 4s restarting failed container=app")
    assert phase_is(api, ns, "crash", "Running")
    events = reasons(api, ns, "crash")
    assert any("Back-off restarting failed container app" in m for m in events["BackOff"])
    events_by_reason = api.events(ns, "crash")
    assert max(e["count"] for e in events_by_reason if e["reason"] == "BackOff") >= 2
    # Garbage collection keeps the newest instance and the one before it.
    runs = wait_for(lambda: len(found := docker_cluster.containers(
        namespace=ns, pod="crash", container="app")) == 2 and found, 10, what="dead ones gone")
    runs.sort(key=lambda c: int(c.labels["io.k8py.restart-count"]))
    # Docker agrees: a restart after the first began at least the back-off after the exit.
    for before, after in zip(runs, runs[1:]):
        if after.labels["io.k8py.restart-count"] == "1":
            continue  # the first restart is immediate
        gap = (parse_time(after.attrs["State"]["StartedAt"])
               - parse_time(before.attrs["State"]["FinishedAt"])).total_seconds()
        assert gap >= 1.5, gap


def test_failing_liveness_probe_restarts_the_container(
        api: Api, kubelets: dict[str, KubeletProcess], pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n2"].node
    api.create_pod(ns, pod("live", node, [{
        "name": "app", "image": DEBIAN,
        "command": ["sh", "-c", "touch /tmp/alive; sleep 2; rm /tmp/alive; sleep 3600"],
        "livenessProbe": {"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 1,
                          "failureThreshold": 2}}]))
    restarted = wait_for(lambda: status_of(api, ns, "live", "app").get("restartCount", 0) >= 1
                         and status_of(api, ns, "live", "app"), 40, what="liveness restart")
    assert restarted["lastState"]["terminated"]["exitCode"] == 137  # sh ignores SIGTERM
    events = reasons(api, ns, "live")
    assert any(m.startswith("Liveness probe failed:") for m in events["Unhealthy"])
    assert "Container app failed liveness probe, will be restarted" in events["Killing"]


def test_readiness_probe_drives_the_ready_condition(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n1"].node
    api.create_pod(ns, pod("ready", node, [{
        "name": "app", "image": DEBIAN, "command": ["sleep", "3600"],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                           "periodSeconds": 1}}]))
    running = wait_for(lambda: phase_is(api, ns, "ready", "Running"), 30, what="running")
    time.sleep(2)
    running = api.pod(ns, "ready") or running
    assert condition(running, "Ready") == "False"
    assert condition(running, "ContainersReady") == "False"
    assert not status_of(api, ns, "ready", "app")["ready"]
    exec_in(docker_cluster, ns, "ready", "app", "touch", "/tmp/ready")
    wait_for(lambda: condition(api.pod(ns, "ready") or {}, "Ready") == "True", 15,
             what="Ready")
    assert status_of(api, ns, "ready", "app")["ready"]
    exec_in(docker_cluster, ns, "ready", "app", "rm", "/tmp/ready")
    wait_for(lambda: condition(api.pod(ns, "ready") or {}, "Ready") == "False", 15,
             what="not Ready again")
    assert status_of(api, ns, "ready", "app")["restartCount"] == 0


def test_container_over_its_memory_limit_is_oom_killed(
        api: Api, kubelets: dict[str, KubeletProcess], pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n2"].node
    api.create_pod(ns, pod("oom", node, [{
        "name": "hog", "image": HELLO,
        "command": ["python3", "-c", "x = bytearray(256 * 1024 * 1024); print(len(x))"],
        "resources": {"limits": {"memory": "48Mi"}}}], restartPolicy="Never"))
    failed = wait_for(lambda: phase_is(api, ns, "oom", "Failed"), 40, what="Failed")
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled" and terminated["exitCode"] == 137


def test_unpullable_image_backs_off_with_events(
        api: Api, kubelets: dict[str, KubeletProcess], pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n1"].node
    api.create_pod(ns, pod("nopull", node, [
        {"name": "app", "image": "k8py/does-not-exist:0.1", "imagePullPolicy": "IfNotPresent"}]))
    seen: set[str] = set()

    def both_reasons() -> bool:
        waiting = status_of(api, ns, "nopull", "app").get("state", {}).get("waiting", {})
        if waiting.get("reason"):
            seen.add(waiting["reason"])
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    wait_for(both_reasons, 40, interval=0.1, what="ErrImagePull then ImagePullBackOff")
    events = reasons(api, ns, "nopull")
    assert any(m.startswith('Failed to pull image "k8py/does-not-exist:0.1"')
               for m in events["Failed"])
    assert 'Back-off pulling image "k8py/does-not-exist:0.1"' in events["BackOff"]
    assert phase_is(api, ns, "nopull", "Pending")


def test_deleting_a_pod_stops_it_within_the_grace_period(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n2"].node
    api.create_pod(ns, pod("gone", node, [
        {"name": "web", "image": HELLO},
        {"name": "stubborn", "image": DEBIAN, "command": ["sleep", "3600"]}],
        terminationGracePeriodSeconds=3))
    wait_for(lambda: condition(api.pod(ns, "gone") or {}, "Ready") == "True", 30, what="Ready")
    assert len(docker_cluster.containers(namespace=ns, pod="gone")) == 3
    started = time.monotonic()
    assert api.delete(f"/api/v1/namespaces/{ns}/pods/gone") == 200
    wait_for(lambda: api.pod(ns, "gone") is None, 20, what="pod object gone")
    took = time.monotonic() - started
    assert 2.5 <= took < 10, took  # `sleep` ignores SIGTERM: killed when the 3 s grace ends
    assert docker_cluster.containers(namespace=ns, pod="gone") == []
    assert "Stopping container web" in reasons(api, ns, "gone")["Killing"]
