"""A node dies and comes back: the controller manager moves its pods and the kubelet tidies up.

The cluster runs as processes: the scheduler, the controller manager with a
6 s ``--node-monitor-grace-period``, and two nodes of a kubelet plus a
kube-proxy each, labelled for this module so the Deployment lands only on
them.  The Deployment's pods tolerate ``node.kubernetes.io/unreachable`` and
``not-ready`` (NoExecute) for 2 s only.  One node's kubelet is then killed
with SIGKILL, as a crashed or cut-off machine would stop reporting: its
containers keep running.  The node must go Unknown and get the unreachable
taints, its pods be evicted and replaced on the other node, with exactly the
replica count alive and nothing created twice.  Restarted, the kubelet
brings the node back to Ready, finishes the evicted pods' deletion and
removes their containers, which ran on all along, from Docker.

Only loopback and the session's own containers are contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.cluster import HELLO, Component
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
NODE_LABEL = "e2e.k8py.io/failure-nodes"
GRACE = 6
TOLERATION_SECONDS = 2
REPLICAS = 4
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
APPS = "/apis/apps/v1/namespaces"


class FailureCluster:
    """Scheduler, a quick-to-judge controller manager, two kubelet + kube-proxy nodes."""

    def __init__(self, api_url: str, docker: DockerCluster, log_dir: Path) -> None:
        self.docker = docker
        self.controllers = Component("controllers", "controllers", [
            "--master", api_url, "--no-leader-elect",
            "--controllers", "deployment,replicaset,nodelifecycle,garbagecollector",
            "--node-monitor-grace-period", f"{GRACE}s"], log_dir)
        self.scheduler = Component("scheduler", "scheduler", [
            "--master", api_url, "--no-leader-elect"], log_dir)
        self.kubelets: dict[str, KubeletProcess] = {}
        self.proxies: list[Component] = []
        for index, ip in enumerate(("127.0.1.3", "127.0.1.4"), start=1):
            name = f"{docker.name}-f{index}"
            self.kubelets[name] = KubeletProcess(api_url, docker, name, log_dir, extra=[
                "--node-ip", ip, "--node-labels", f"{NODE_LABEL}={docker.name}"])
            self.proxies.append(Component(f"kube-proxy-f{index}", "kubeproxy", [
                "--master", api_url, "--node-name", name, "--node-ip", ip,
                "--cluster-name", docker.name, "--sync-period", "10"], log_dir))

    def start(self) -> None:
        self.controllers.start()
        self.scheduler.start()
        for proxy, kubelet in zip(self.proxies, self.kubelets.values()):
            proxy.start()
            kubelet.start()

    def stop(self) -> None:
        for proxy, kubelet in zip(self.proxies, self.kubelets.values()):
            kubelet.stop()
            proxy.stop()
        self.scheduler.stop()
        self.controllers.stop()

    def logs(self) -> str:
        parts = [(c.name, c.logs()) for c in (self.controllers, self.scheduler)]
        parts += [(k.node, k.logs()) for k in self.kubelets.values()]
        return "\n".join(f"==== {name}\n{text[-3000:]}" for name, text in parts)


@pytest.fixture(scope="module")
def cluster(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailureCluster]:
    built = FailureCluster(apiserver.url, docker_cluster, tmp_path_factory.mktemp("node-failure"))
    try:
        built.start()
        yield built
    finally:
        built.stop()


def deployment(name: str, selector: dict[str, str]) -> Obj:
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": TOLERATION_SECONDS} for key in (UNREACHABLE, NOT_READY)]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "nodeSelector": selector, "tolerations": tolerations,
                         "terminationGracePeriodSeconds": 2,
                         "containers": [{"name": "web", "image": HELLO,
                                         "ports": [{"containerPort": 8080}]}]}}}}


def pods(api: Api, ns: str, app: str) -> list[Obj]:
    found = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3D{app}") or {}
    return list(found.get("items") or [])


def alive(items: list[Obj]) -> list[Obj]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running_on(items: list[Obj], node: str) -> list[Obj]:
    return [p for p in alive(items) if p["spec"].get("nodeName") == node
            and (p.get("status") or {}).get("phase") == "Running"]


def available(api: Api, ns: str, name: str) -> int:
    found = api.get(f"{APPS}/{ns}/deployments/{name}") or {}
    return int((found.get("status") or {}).get("availableReplicas") or 0)


def ready_status(node: Obj) -> str | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status"))
    return None


def taint_keys(node: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


def test_dead_node_pods_move_and_the_node_recovers(api: Api, pod_namespace: str,
                                                   docker_cluster: DockerCluster,
                                                   cluster: FailureCluster) -> None:
    ns, app = pod_namespace, "web"
    api.create(f"{APPS}/{ns}/deployments",
               deployment(app, {NODE_LABEL: docker_cluster.name}))
    try:
        wait_for(lambda: available(api, ns, app) == REPLICAS, 120,
                 what=f"{REPLICAS} available replicas")
        before = alive(pods(api, ns, app))
        assert len(before) == REPLICAS
        placed: dict[str, list[str]] = {node: [] for node in cluster.kubelets}
        for pod in before:
            placed[pod["spec"]["nodeName"]].append(pod["metadata"]["uid"])
        victim = max(placed, key=lambda node: len(placed[node]))
        [survivor] = [node for node in placed if node != victim]
        doomed = set(placed[victim])
        kept = set(placed[survivor])

        # The machine goes silent: no status, no lease, but its containers run on.
        cluster.kubelets[victim].kill()

        def unreachable() -> Obj:
            node = api.get(f"/api/v1/nodes/{victim}") or {}
            wanted = {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
            return node if ready_status(node) == "Unknown" and wanted <= taint_keys(node) else {}

        node = wait_for(unreachable, GRACE + 30, what=f"{victim} Unknown and tainted")
        conditions = {c["type"]: c for c in node["status"]["conditions"]}
        assert conditions["Ready"]["reason"] == "NodeStatusUnknown"

        # Evicted once the 2 s toleration runs out, and replaced on the survivor.
        def moved() -> list[Obj]:
            items = pods(api, ns, app)
            evicted = {p["metadata"]["uid"] for p in items
                       if p["metadata"].get("deletionTimestamp")}
            if evicted != doomed or len(running_on(items, survivor)) != REPLICAS \
                    or available(api, ns, app) != REPLICAS:
                return []
            return items

        items = wait_for(moved, 120, what=f"pods of {victim} replaced on {survivor}")
        live = alive(items)
        assert len(live) == REPLICAS
        assert {p["spec"]["nodeName"] for p in live} == {survivor}
        assert len({p["metadata"]["name"] for p in live}) == REPLICAS
        assert kept <= {p["metadata"]["uid"] for p in live}, "a survivor's pod was disturbed"
        # Every pod ever created is a live replica or one of the evicted: none twice.
        assert len(items) == REPLICAS + len(doomed)
        wait_for(lambda: {(uid, "TaintManagerEviction") for uid in doomed} <= {
            (e["involvedObject"].get("uid"), e.get("reason")) for e in api.events(ns)}, 15,
            what="an eviction event for each pod of the dead node")
        # Nothing on the dead node stopped them: the evicted pods' containers still run.
        for uid in doomed:
            assert any(c.status == "running" for c in docker_cluster.containers(pod_uid=uid))

        # The machine comes back.
        cluster.kubelets[victim].start()

        def recovered() -> bool:
            node = api.get(f"/api/v1/nodes/{victim}") or {}
            return ready_status(node) == "True" and not any(
                key in (UNREACHABLE, NOT_READY) for key, _ in taint_keys(node))

        wait_for(recovered, 60, what=f"{victim} Ready and untainted")

        def tidied() -> bool:
            items = pods(api, ns, app)
            return {p["metadata"]["uid"] for p in items}.isdisjoint(doomed) and not any(
                docker_cluster.containers(pod_uid=uid) for uid in doomed)

        wait_for(tidied, 60, what="evicted pods deleted and their containers removed")
        final = pods(api, ns, app)
        assert len(final) == REPLICAS and final == alive(final)
        assert {p["spec"]["nodeName"] for p in final} == {survivor}
        assert available(api, ns, app) == REPLICAS
        serving = [c for c in docker_cluster.containers(namespace=ns, kind="app")
                   if c.status == "running"]
        assert sorted(c.labels["io.k8py.pod-uid"] for c in serving) == sorted(
            p["metadata"]["uid"] for p in final)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        api.delete(f"{APPS}/{ns}/deployments/{app}", propagationPolicy="Background")
        for rs in (api.get(f"{APPS}/{ns}/replicasets") or {}).get("items") or []:
            api.delete(f"{APPS}/{ns}/replicasets/{rs['metadata']['name']}")
