"""Deployments on real Docker: scheduler, controller manager and two kubelets as processes.

A Deployment of ``k8py/hello`` spreads over both nodes, survives the loss
of a pod (deleted through the API) and of a container (removed behind the
cluster's back with ``docker rm -f``), rolls out a new version and rolls
back.  Each pod's version is read from the app itself over the cluster
network.  The Deployment and its ReplicaSets are deleted before
``pod_namespace`` removes pods and containers, so nothing recreates them.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.cluster import Component, scheduler_and_controllers
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
APPS = "/apis/apps/v1/namespaces"


@pytest.fixture(scope="module")
def control_plane(apiserver: ApiServerProcess, kubelets: dict[str, KubeletProcess],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Component]]:
    with scheduler_and_controllers(apiserver.url, tmp_path_factory.mktemp("control-plane-logs"),
                                   ["deployment", "replicaset", "garbagecollector", "namespace"]) as started:
        yield started


@pytest.fixture
def workloads(pod_namespace: str, api: Api) -> Iterator[str]:
    """The test namespace; its Deployments and ReplicaSets go first on the way out."""
    try:
        yield pod_namespace
    finally:
        for kind in ("deployments", "replicasets"):
            found = api.get(f"{APPS}/{pod_namespace}/{kind}") or {}
            for obj in found.get("items") or []:
                api.delete(f"{APPS}/{pod_namespace}/{kind}/{obj['metadata']['name']}",
                           propagationPolicy="Orphan")


def hello(image: str = "k8py/hello:1.0") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hello"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "hello"}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": "hello"}}, "spec": {
                         "terminationGracePeriodSeconds": 2,
                         "containers": [{
                             "name": "web", "image": image,
                             "ports": [{"containerPort": 8080}],
                             "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                "periodSeconds": 1}}]}}}}


def ready_pods(api: Api, ns: str) -> list[Obj]:
    found = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dhello") or {}
    return [p for p in found.get("items") or []
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True"
                    for c in p.get("status", {}).get("conditions") or [])]


def rolled_out(api: Api, ns: str, image: str) -> list[Obj] | None:
    d = api.get(f"{APPS}/{ns}/deployments/hello")
    if d is None:
        return None
    status = d.get("status") or {}
    if not (d["metadata"]["generation"] <= status.get("observedGeneration", 0)
            and status.get("updatedReplicas") == status.get("replicas") == 3
            and status.get("availableReplicas") == 3):
        return None
    pods = ready_pods(api, ns)
    if len(pods) != 3 or {p["spec"]["containers"][0]["image"] for p in pods} != {image}:
        return None
    return pods


class BoundsWatcher:
    """Watches app=hello's pods from now on and records every state that breaks the rolling
    update's bounds: more than 3 + ``surge`` pods not terminating, or fewer than
    3 - ``unavailable`` of them ready."""

    def __init__(self, api: Api, ns: str, *, surge: int, unavailable: int) -> None:
        listed = api.http.get(f"/api/v1/namespaces/{ns}/pods",
                              params={"labelSelector": "app=hello"}).json()
        self.pods: dict[str, Obj] = {p["metadata"]["name"]: p for p in listed["items"]}
        self.most, self.least = 3 + surge, 3 - unavailable
        self.states: list[tuple[int, int]] = []
        self.violations: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, args=(
            str(api.http.base_url).rstrip("/"), ns, listed["metadata"]["resourceVersion"]))
        self._thread.start()

    def _watch(self, base: str, ns: str, resource_version: str) -> None:
        params = {"labelSelector": "app=hello", "watch": "1",
                  "resourceVersion": resource_version, "timeoutSeconds": "300"}
        with httpx.stream("GET", f"{base}/api/v1/namespaces/{ns}/pods", params=params,
                          timeout=httpx.Timeout(10, read=None)) as stream:
            for line in stream.iter_lines():
                if self._stop.is_set():
                    return
                if not line:
                    continue
                event = json.loads(line)
                pod = event["object"]
                name = pod["metadata"]["name"]
                if event["type"] == "DELETED":
                    self.pods.pop(name, None)
                elif event["type"] in ("ADDED", "MODIFIED"):
                    self.pods[name] = pod
                live = [p for p in self.pods.values()
                        if not p["metadata"].get("deletionTimestamp")]
                ready = sum(1 for p in live if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p.get("status", {}).get("conditions") or []))
                state = (len(live), ready)
                self.states.append(state)
                if len(live) > self.most or ready < self.least:
                    self.violations.append(state)

    def stop(self) -> list[tuple[int, int]]:
        self._stop.set()
        self._thread.join(15)
        return list(self.states)


def version_of(pod: Obj) -> str:
    """Ask the app itself, over the cluster network, which version it runs."""
    with socket.create_connection((pod["status"]["podIP"], 8080), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    return reply.decode().rsplit("(version ", 1)[-1].split(")", 1)[0]


def test_deployment_spreads_and_heals(api: Api, control_plane: list[Component],
                                      kubelets: dict[str, KubeletProcess],
                                      docker_cluster: DockerCluster, workloads: str) -> None:
    ns = workloads
    api.create(f"{APPS}/{ns}/deployments", hello())
    pods = wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="3 ready pods")
    assert {p["spec"]["nodeName"] for p in pods} == {k.node for k in kubelets.values()}
    assert {version_of(p) for p in pods} == {"1.0"}

    victim = pods[0]["metadata"]["name"]
    assert api.delete(f"/api/v1/namespaces/{ns}/pods/{victim}") == 200
    healed = wait_for(lambda: (lambda ps: ps if len(ps) == 3 and victim not in
                               {p["metadata"]["name"] for p in ps} else None)(
        ready_pods(api, ns)), 60, what="a replacement pod")
    assert len({p["metadata"]["name"] for p in healed}) == 3

    target = healed[0]["metadata"]["name"]
    [container] = [c for c in docker_cluster.containers(namespace=ns, pod=target, container="web")
                   if c.status == "running"]
    container.remove(force=True)

    def recovered() -> list[Obj] | None:
        for c in docker_cluster.containers(namespace=ns, pod=target, container="web"):
            if c.status == "running" and c.id != container.id:
                pods = ready_pods(api, ns)
                return pods if len(pods) == 3 else None
        return None
    wait_for(recovered, 60, what="the removed container to be replaced")


def test_rollout_to_a_new_version_and_undo(api: Api, control_plane: list[Component],
                                           workloads: str) -> None:
    ns = workloads
    api.create(f"{APPS}/{ns}/deployments", hello())
    wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="version 1.0")

    bounds = BoundsWatcher(api, ns, surge=1, unavailable=0)
    response = api.http.patch(
        f"{APPS}/{ns}/deployments/hello",
        json={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "k8py/hello:2.0"}]}}}},
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status_code == 200, response.text
    status = subprocess.run(
        ["kubectl", "--server", str(api.http.base_url).rstrip("/"), "-n", ns,
         "rollout", "status", "deploy/hello", "--timeout=120s"],
        capture_output=True, text=True, timeout=150)
    assert status.returncode == 0, status.stderr
    assert 'deployment "hello" successfully rolled out' in status.stdout
    pods = wait_for(lambda: rolled_out(api, ns, "k8py/hello:2.0"), 120, what="version 2.0")
    assert {version_of(p) for p in pods} == {"2.0"}
    states = bounds.stop()
    assert bounds.violations == [], states
    assert len(states) >= 6  # both versions' pods passed through the watcher

    undo = subprocess.run(
        ["kubectl", "--server", api.http.base_url.__str__().rstrip("/"), "-n", ns,
         "rollout", "undo", "deploy/hello"], capture_output=True, text=True, timeout=60)
    assert undo.returncode == 0, undo.stderr
    pods = wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 120, what="back to 1.0")
    assert {version_of(p) for p in pods} == {"1.0"}
    rss = api.get(f"{APPS}/{ns}/replicasets") or {}
    revisions = sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                       for rs in rss["items"])
    assert revisions == ["2", "3"]


def test_rollout_to_an_image_that_cannot_start_stalls_then_undo_recovers(
        api: Api, control_plane: list[Component], workloads: str) -> None:
    ns = workloads
    body = hello()
    body["spec"]["progressDeadlineSeconds"] = 8
    api.create(f"{APPS}/{ns}/deployments", body)
    wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="version 1.0")

    # No registry is reachable and the image is not on this machine: the pod cannot start.
    response = api.http.patch(
        f"{APPS}/{ns}/deployments/hello",
        json={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "k8py/does-not-exist:1.0"}]}}}},
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status_code == 200, response.text

    def stalled() -> Obj | None:
        d = api.get(f"{APPS}/{ns}/deployments/hello") or {}
        conds = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
        progressing = conds.get("Progressing") or {}
        return d if progressing.get("reason") == "ProgressDeadlineExceeded" else None

    stalled_deployment = wait_for(stalled, 90, what="ProgressDeadlineExceeded")
    assert stalled_deployment["status"]["conditions"]
    # maxUnavailable 0: the three old pods kept serving while the new one could not start.
    assert len(ready_pods(api, ns)) == 3
    status = subprocess.run(
        ["kubectl", "--server", str(api.http.base_url).rstrip("/"), "-n", ns,
         "rollout", "status", "deploy/hello", "--timeout=20s"], capture_output=True, text=True, timeout=60)
    assert status.returncode != 0 and "exceeded its progress deadline" in status.stderr

    undo = subprocess.run(
        ["kubectl", "--server", str(api.http.base_url).rstrip("/"), "-n", ns,
         "rollout", "undo", "deploy/hello"], capture_output=True, text=True, timeout=60)
    assert undo.returncode == 0, undo.stderr
    pods = wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 120, what="back to 1.0")
    assert {version_of(p) for p in pods} == {"1.0"}

    def progressing_again() -> bool:
        d = api.get(f"{APPS}/{ns}/deployments/hello") or {}
        conds = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
        return (conds.get("Progressing") or {}).get("reason") == "NewReplicaSetAvailable"

    wait_for(progressing_again, 60, what="the Deployment healthy again")


def test_scaling_three_six_one_converges_on_real_pods(api: Api, control_plane: list[Component],
                                                      workloads: str) -> None:
    ns = workloads
    api.create(f"{APPS}/{ns}/deployments", hello())
    wait_for(lambda: len(ready_pods(api, ns)) == 3 or None, 90, what="3 ready pods")
    for replicas in (6, 1):
        response = api.http.patch(f"{APPS}/{ns}/deployments/hello/scale", json={"spec": {"replicas": replicas}},
                                  headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text

        def converged(n: int = replicas) -> list[Obj] | None:
            found = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dhello") or {}
            live = [p for p in found.get("items") or [] if not p["metadata"].get("deletionTimestamp")]
            ready = ready_pods(api, ns)
            return ready if len(live) == n and len(ready) == n else None

        pods = wait_for(converged, 120, what=f"{replicas} ready pods")
        assert len({p["metadata"]["name"] for p in pods}) == replicas


def test_killed_controller_manager_finishes_the_rollout_and_deletions_cascade(
        api: Api, control_plane: list[Component], docker_cluster: DockerCluster,
        workloads: str) -> None:
    """SIGKILL the controller manager right after an image change: once it is back the
    rollout finishes with exactly the asked replicas (none lost, none doubled).  Then an
    orphaning delete keeps a Deployment's ReplicaSet and pods, and a background delete
    removes the other's ReplicaSets, pods and containers."""
    ns = workloads
    api.create(f"{APPS}/{ns}/deployments", hello())
    kept = hello()
    kept["metadata"]["name"] = "kept"
    kept["spec"].update(replicas=1, selector={"matchLabels": {"app": "kept"}})
    kept["spec"]["template"]["metadata"]["labels"] = {"app": "kept"}
    api.create(f"{APPS}/{ns}/deployments", kept)
    wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="version 1.0")

    response = api.http.patch(
        f"{APPS}/{ns}/deployments/hello",
        json={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "k8py/hello:2.0"}]}}}},
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status_code == 200, response.text
    controllers = control_plane[1]
    wait_for(lambda: len(live_pods(api, ns, "hello")) > 3 or None, 30, what="a surge pod")
    controllers.stop(signal.SIGKILL)
    controllers.start()

    def settled() -> list[Obj] | None:
        pods = rolled_out(api, ns, "k8py/hello:2.0")
        return pods if pods and len(live_pods(api, ns, "hello")) == 3 else None
    pods = wait_for(settled, 120, what="the rollout finished by the restarted manager")
    assert {version_of(p) for p in pods} == {"2.0"}

    assert api.delete(f"{APPS}/{ns}/deployments/kept", propagationPolicy="Orphan") == 200
    assert api.delete(f"{APPS}/{ns}/deployments/hello", propagationPolicy="Background") == 200

    def hello_gone() -> bool:
        sets = api.get(f"{APPS}/{ns}/replicasets") or {}
        names = [s["metadata"]["name"] for s in sets.get("items") or []]
        return (not any(n.startswith("hello-") for n in names) and not live_pods(api, ns, "hello")
                and not any(c.status == "running" and c.labels.get("io.k8py.pod", "").startswith(
                    "hello-") for c in docker_cluster.containers(namespace=ns)))
    wait_for(hello_gone, 90, what="hello's ReplicaSets, pods and containers gone")
    [orphan] = [s for s in (api.get(f"{APPS}/{ns}/replicasets") or {}).get("items") or []
                if s["metadata"]["name"].startswith("kept-")]
    assert not orphan["metadata"].get("ownerReferences")
    assert len(live_pods(api, ns, "kept")) == 1


def live_pods(api: Api, ns: str, app: str) -> list[Obj]:
    found = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3D{app}") or {}
    return [p for p in found.get("items") or [] if not p["metadata"].get("deletionTimestamp")]


def test_foreground_deletion_then_namespace_deletion_leave_nothing(
        api: Api, control_plane: list[Component], docker_cluster: DockerCluster) -> None:
    """Foreground deletion keeps the Deployment until its ReplicaSet and pods are gone;
    deleting the namespace removes everything left in it, containers included."""
    ns = f"gone-{docker_cluster.name[-8:]}"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns}})
    try:
        api.create(f"{APPS}/{ns}/deployments", hello())
        api.create(f"/api/v1/namespaces/{ns}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
            "data": {"a": "1"}})
        wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="3 ready pods")
        assert api.delete(f"{APPS}/{ns}/deployments/hello",
                          propagationPolicy="Foreground") == 200
        seen_with_dependents = False
        deadline = time.monotonic() + 90
        while (deployment := api.get(f"{APPS}/{ns}/deployments/hello")) is not None:
            assert "foregroundDeletion" in deployment["metadata"].get("finalizers", [])
            sets = (api.get(f"{APPS}/{ns}/replicasets") or {}).get("items") or []
            seen_with_dependents = seen_with_dependents or bool(sets)
            assert time.monotonic() < deadline, "the Deployment was never removed"
            time.sleep(0.1)
        assert seen_with_dependents, "the Deployment went before its ReplicaSet"
        assert not (api.get(f"{APPS}/{ns}/replicasets") or {}).get("items")
        assert not live_pods(api, ns, "hello")

        api.create(f"{APPS}/{ns}/deployments", hello())
        wait_for(lambda: rolled_out(api, ns, "k8py/hello:1.0"), 90, what="3 ready pods again")
        assert api.delete(f"/api/v1/namespaces/{ns}") == 200
        wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}") is None
                 and not docker_cluster.containers(namespace=ns) or None, 120,
                 what="the namespace, its objects and its containers gone")
    finally:
        if api.get(f"/api/v1/namespaces/{ns}") is not None:
            api.delete(f"/api/v1/namespaces/{ns}")
        docker_cluster.remove_containers(namespace=ns)
