"""DaemonSets on real Docker: one pod per node, through the default scheduler.

The session's two kubelets plus a third started here, the scheduler and the
controller manager (daemonset, garbagecollector) as processes.  A DaemonSet
of ``k8py/hello`` runs exactly one ready pod on each of the two nodes, each
pinned by node affinity and bound by the scheduler; it gains one when the
third node joins.  A NoSchedule taint on that node keeps a DaemonSet without
a toleration off it (a pod deleted there is not replaced) while one with a
toleration runs there; when the node leaves, its pod goes at once.  Deleting
the DaemonSets removes their pods and containers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.test_cli import ok, run
from tests.conftest import ApiServerProcess
from tests.e2e.cluster import HELLO, scheduler_and_controllers
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

Obj = dict[str, Any]
APPS = "/apis/apps/v1/namespaces"
TAINT = {"key": "e2e.k8py.io/dedicated", "value": "db", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def control_plane(apiserver: ApiServerProcess, kubelets: dict[str, KubeletProcess],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log_dir: Path = tmp_path_factory.mktemp("daemonset")
    with scheduler_and_controllers(apiserver.url, log_dir, ["daemonset", "garbagecollector"]):
        yield log_dir


@pytest.fixture
def third_node(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
               control_plane: Path, api: Api) -> Iterator[KubeletProcess]:
    kubelet = KubeletProcess(apiserver.url, docker_cluster, f"{docker_cluster.name}-n3",
                             control_plane, extra=["--service-rules-timeout", "0"])
    try:
        yield kubelet
    finally:
        kubelet.stop()
        api.delete(f"/api/v1/nodes/{kubelet.node}")


@pytest.fixture
def ds_ns(pod_namespace: str, api: Api, control_plane: Path) -> Iterator[str]:
    """The test namespace; DaemonSets go first on the way out, taking their pods."""
    try:
        yield pod_namespace
    finally:
        found = api.get(f"{APPS}/{pod_namespace}/daemonsets") or {}
        for ds in found.get("items") or []:
            api.delete(f"{APPS}/{pod_namespace}/daemonsets/{ds['metadata']['name']}",
                       propagationPolicy="Background")


def daemonset(name: str, nodes: list[str], tolerations: list[Obj] | None = None) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1, "tolerations": tolerations or [],
                    # Only this module's nodes: other modules leave their nodes behind.
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                                  {"nodeSelectorTerms": [{"matchExpressions": [
                                                      {"key": "kubernetes.io/hostname",
                                                       "operator": "In", "values": nodes}]}]}}},
                    "containers": [{"name": "hello", "image": HELLO,
                                    "ports": [{"containerPort": 8080}],
                                    "readinessProbe": {"httpGet": {"path": "/healthz",
                                                                   "port": 8080},
                                                       "periodSeconds": 1}}]}}}}


def ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ())


class View:
    def __init__(self, api: Api, ns: str) -> None:
        self.api, self.ns = api, ns

    def pods(self, app: str) -> list[Obj]:
        found = self.api.get(f"/api/v1/namespaces/{self.ns}/pods?labelSelector=app%3D{app}")
        return [p for p in (found or {}).get("items") or []
                if not p["metadata"].get("deletionTimestamp")]

    def placement(self, app: str) -> dict[str, int]:
        """Ready pods per node."""
        out: dict[str, int] = {}
        for pod in self.pods(app):
            if ready(pod):
                node = pod["spec"]["nodeName"]
                out[node] = out.get(node, 0) + 1
        return out

    def status(self, app: str) -> Obj:
        return dict((self.api.get(f"{APPS}/{self.ns}/daemonsets/{app}") or {}).get("status")
                    or {})


def test_daemonset_follows_the_nodes(api: Api, docker_cluster: DockerCluster, kubeconfig: str,
                                     kubelets: dict[str, KubeletProcess], ds_ns: str,
                                     third_node: KubeletProcess) -> None:
    view = View(api, ds_ns)
    n1, n2, n3 = kubelets["n1"].node, kubelets["n2"].node, third_node.node
    nodes = [n1, n2, n3]
    api.create(f"{APPS}/{ds_ns}/daemonsets", daemonset("agent", nodes))

    wait_for(lambda: view.placement("agent") == {n1: 1, n2: 1}, 90, what="agent on n1 and n2")
    pod = view.pods("agent")[0]
    [term] = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == {"matchFields": [{"key": "metadata.name", "operator": "In",
                                     "values": [pod["spec"]["nodeName"]]}]}
    assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute"} in pod["spec"]["tolerations"]
    wait_for(lambda: view.status("agent").get("numberReady") == 2, 30, what="status ready 2")
    status = view.status("agent")
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 2
    assert status["updatedNumberScheduled"] == 2 and status["numberMisscheduled"] == 0

    # -- rollout restart replaces the pods, within maxUnavailable 1 ------------------------
    k8py = lambda *a: run(kubeconfig, ds_ns, *a)  # noqa: E731
    first = {p["metadata"]["name"] for p in view.pods("agent")}
    assert ok(k8py("rollout", "restart", "ds/agent")) == "daemonset.apps/agent restarted\n"
    assert ok(k8py("rollout", "status", "ds/agent", "--timeout", "90s")).endswith(
        'daemon set "agent" successfully rolled out\n')
    assert not first & {p["metadata"]["name"] for p in view.pods("agent")}
    assert view.placement("agent") == {n1: 1, n2: 1}

    # -- a node joins --------------------------------------------------------------------
    third_node.start()
    wait_for(lambda: view.placement("agent") == {n1: 1, n2: 1, n3: 1}, 90,
             what="agent on the new node too")
    wait_for(lambda: view.status("agent").get("desiredNumberScheduled") == 3, 30,
             what="status desired 3")

    # -- a NoSchedule taint keeps pods without a toleration off ---------------------------
    response = api.http.patch(f"/api/v1/nodes/{n3}", json={"spec": {"taints": [TAINT]}},
                              headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    wait_for(lambda: view.status("agent").get("numberMisscheduled") == 1, 30,
             what="the running pod on the tainted node counted misscheduled")
    [on_n3] = [p for p in view.pods("agent") if p["spec"]["nodeName"] == n3]
    api.delete(f"/api/v1/namespaces/{ds_ns}/pods/{on_n3['metadata']['name']}")
    wait_for(lambda: all(p["spec"].get("nodeName") != n3 for p in view.pods("agent")), 30,
             what="agent's pod on n3 gone")
    api.create(f"{APPS}/{ds_ns}/daemonsets", daemonset("tolerant", nodes, [
        {"key": TAINT["key"], "operator": "Equal", "value": TAINT["value"],
         "effect": "NoSchedule"}]))
    wait_for(lambda: view.placement("tolerant") == {n1: 1, n2: 1, n3: 1}, 90,
             what="tolerant on all three nodes")
    assert view.placement("agent") == {n1: 1, n2: 1}  # still not replaced on n3
    assert view.status("agent")["desiredNumberScheduled"] == 2

    # -- the node leaves: its pod goes at once ------------------------------------------------
    third_node.stop()
    docker_cluster.remove_containers(namespace=ds_ns, node=n3)  # the machine is gone
    assert api.delete(f"/api/v1/nodes/{n3}") == 200
    wait_for(lambda: all(p["spec"].get("nodeName") != n3 for p in view.pods("tolerant")), 30,
             what="tolerant's pod on the departed node deleted")
    found = api.get(f"/api/v1/namespaces/{ds_ns}/pods") or {}
    assert all(p["spec"].get("nodeName") != n3 for p in found.get("items") or [])

    # -- deleting the DaemonSets removes their pods and containers --------------------------
    for name in ("agent", "tolerant"):
        api.delete(f"{APPS}/{ds_ns}/daemonsets/{name}", propagationPolicy="Background")
    wait_for(lambda: not (api.get(f"/api/v1/namespaces/{ds_ns}/pods") or {}).get("items"), 60,
             what="pods gone")
    deadline = time.monotonic() + 30
    while docker_cluster.containers(namespace=ds_ns) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not docker_cluster.containers(namespace=ds_ns)
