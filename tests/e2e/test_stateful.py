"""StatefulSets with persistent volumes on real Docker, end to end.

A process-mode cluster (controllers, scheduler, cluster DNS and two kubelet +
kube-proxy nodes, ``tests/e2e/addons.py``) runs a 3-replica StatefulSet
``web``: toolbox pods serving their volume with ``python3 -m http.server``
behind a headless Service, each with a claim from the default StorageClass
(``k8py.io/local-path``: a folder under this module's volume root).  The
test checks that the pods start strictly in order, each keeps its own data
and DNS name across being deleted and recreated, a claim a running pod uses
is held back from deletion, scaling down removes the highest ordinal first
and keeps its claim, ``k8py rollout restart|status|history`` roll the pods
onto a new revision with their data (but for the claim deleted earlier,
which goes with its old pod), and deleting the set (claims ``whenDeleted: Delete``)
leaves no pod, claim, volume, folder or container behind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.compat.test_cli import ok, run
from tests.conftest import ApiServerProcess
from tests.e2e.addons import AddonCluster, remove_namespace
from tests.e2e.cluster import TOOLBOX, exec_in, running
from tests.e2e.conftest import Api, DockerCluster, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

Obj = dict[str, Any]
APPS = "/apis/apps/v1/namespaces"
# Each replica writes its identity once; a recreated pod must find the old file.
SERVE = ('[ -f /data/id ] || echo "$(hostname) $(date +%s%N)" > /data/id; '
         "cd /data && exec python3 -m http.server 8080")


@dataclass
class Env:
    api: Api
    docker: DockerCluster
    cluster: AddonCluster
    ns: str
    root: Path
    kubeconfig: str

    def sts(self) -> Obj:
        found = self.api.get(f"{APPS}/{self.ns}/statefulsets/web")
        assert found is not None
        return found

    def pods(self) -> dict[str, Obj]:
        found = self.api.get(f"/api/v1/namespaces/{self.ns}/pods") or {}
        return {p["metadata"]["name"]: p for p in found.get("items") or []}

    def claims(self) -> dict[str, Obj]:
        found = self.api.get(f"/api/v1/namespaces/{self.ns}/persistentvolumeclaims") or {}
        return {c["metadata"]["name"]: c for c in found.get("items") or []}

    def volumes(self) -> dict[str, Obj]:
        found = self.api.get("/api/v1/persistentvolumes") or {}
        return {v["metadata"]["name"]: v for v in found.get("items") or []
                if (v["spec"].get("claimRef") or {}).get("namespace") == self.ns}

    def sh(self, pod: str, command: str) -> str:
        code, out = exec_in(self.docker, self.ns, pod, "web", "sh", "-c", command)
        assert code == 0, out
        return out.strip()

    def scale(self, replicas: int) -> None:
        response = self.api.http.patch(
            f"{APPS}/{self.ns}/statefulsets/web/scale", json={"spec": {"replicas": replicas}},
            headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text


def ready(pod: Obj | None) -> bool:
    status = (pod or {}).get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ())


def statefulset(selector: dict[str, str]) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {
            "replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete",
                                                     "whenScaled": "Retain"},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "nodeSelector": selector, "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "web", "image": TOOLBOX, "command": ["sh", "-c", SERVE],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                    "readinessProbe": {"httpGet": {"path": "/id", "port": 8080},
                                       "periodSeconds": 1, "failureThreshold": 3}}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "64Mi"}}}}],
        },
    }


@pytest.fixture(scope="module")
def addon_cluster(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AddonCluster, Path]]:
    root = Path(tmp_path_factory.mktemp("pv-root"))
    cluster = AddonCluster(apiserver.url, docker_cluster, Path(tmp_path_factory.mktemp("sts")))
    cluster.controllers.args += ["--volume-root", str(root)]
    try:
        with running(cluster):
            yield cluster, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def env(api: Api, docker_cluster: DockerCluster, kubeconfig: str,
        addon_cluster: tuple[AddonCluster, Path]) -> Iterator[Env]:
    cluster, root = addon_cluster
    ns = f"sts-{docker_cluster.name[-8:]}"
    api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    try:
        yield Env(api, docker_cluster, cluster, ns, root, kubeconfig)
    finally:
        try:
            print(cluster.logs()[-6000:])
        finally:
            remove_namespace(api, docker_cluster, ns)


def test_stateful_set_lifecycle(env: Env, apiserver: ApiServerProcess) -> None:
    api, ns = env.api, env.ns
    api.create(f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 8080}]}})
    api.create(f"{APPS}/{ns}/statefulsets", statefulset(env.cluster.node_selector))

    # -- ordered start: a pod exists only once its predecessor is Running and Ready --------
    deadline = time.monotonic() + 150
    while True:
        pods = env.pods()
        for ordinal in (1, 2):
            if f"web-{ordinal}" in pods:
                assert ready(pods.get(f"web-{ordinal - 1}")), (
                    f"web-{ordinal} exists before web-{ordinal - 1} is ready")
        if len(pods) == 3 and all(ready(p) for p in pods.values()):
            break
        assert time.monotonic() < deadline, f"3 ready pods: {sorted(pods)}"
        time.sleep(0.2)
    status = wait_for(lambda: env.sts()["status"] if env.sts()["status"].get(
        "readyReplicas") == 3 else None, 30, what="status with 3 ready replicas")
    assert status["currentRevision"] == status["updateRevision"]
    assert status["replicas"] == status["currentReplicas"] == status["updatedReplicas"] == 3

    # -- identity: hostname, claim, volume folder -----------------------------------------
    ids = {}
    for ordinal in range(3):
        name = f"web-{ordinal}"
        assert env.sh(name, "hostname") == name
        ids[name] = env.sh(name, "cat /data/id")
        assert ids[name].startswith(f"{name} ")
    claims = env.claims()
    assert sorted(claims) == ["www-web-0", "www-web-1", "www-web-2"]
    assert all(c["status"]["phase"] == "Bound" for c in claims.values())
    assert all("kubernetes.io/pvc-protection" in c["metadata"]["finalizers"]
               for c in claims.values())
    volumes = env.volumes()
    for claim in claims.values():
        pv = volumes[claim["spec"]["volumeName"]]
        folder = Path(pv["spec"]["hostPath"]["path"])
        assert folder.parent == env.root
        owner = pv["spec"]["claimRef"]["name"].removeprefix("www-")
        assert (folder / "id").read_text().strip() == ids[owner]

    # -- a deleted pod returns with its name, data and DNS name ------------------------------
    fqdn = f"web-1.web.{ns}.svc.cluster.local"

    def resolves_to_web1() -> bool:
        ip = env.pods()["web-1"]["status"].get("podIP")
        code, out = exec_in(env.docker, ns, "web-0", "web", "dig", "+short", "+time=2", fqdn)
        return code == 0 and out.split() == [ip]

    wait_for(resolves_to_web1, 30, what=f"{fqdn} resolving to web-1")
    old_uid = env.pods()["web-1"]["metadata"]["uid"]
    api.delete(f"/api/v1/namespaces/{ns}/pods/web-1")
    wait_for(lambda: (p := env.pods().get("web-1")) is not None
             and p["metadata"]["uid"] != old_uid and ready(p), 90, what="web-1 back and ready")
    assert env.sh("web-1", "cat /data/id") == ids["web-1"]
    wait_for(resolves_to_web1, 30, what=f"{fqdn} resolving to the new web-1")

    # -- a whole cluster restart, the pods' containers stopped as a reboot would ---------------
    env.cluster.stop()
    apiserver.stop()
    for container in env.docker.containers(namespace=ns):
        if container.status == "running":
            container.stop(timeout=1)
    apiserver.start()
    env.cluster.start()
    wait_for(lambda: (p := env.pods()) and sorted(p) == ["web-0", "web-1", "web-2"]
             and all(ready(x) for x in p.values()) or None, 120,
             what="the three pods ready again after the cluster restart")
    assert env.sh("web-1", "hostname") == "web-1"
    assert env.sh("web-1", "cat /data/id") == ids["web-1"]
    wait_for(resolves_to_web1, 30, what=f"{fqdn} resolving to web-1 after the restart")

    # -- the claim of a running pod is held back from deletion --------------------------------
    api.delete(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/www-web-0")
    time.sleep(3)
    held = env.claims()["www-web-0"]
    assert held["metadata"].get("deletionTimestamp") and held["status"]["phase"] == "Bound"
    assert ready(env.pods()["web-0"])

    # -- scale down: web-2 goes first, its claim stays ------------------------------------------
    env.scale(2)
    deadline = time.monotonic() + 60
    while "web-2" in (pods := env.pods()):
        assert not pods["web-1"]["metadata"].get("deletionTimestamp"), "web-1 went before web-2"
        assert time.monotonic() < deadline, "web-2 never went"
        time.sleep(0.2)
    assert sorted(env.pods()) == ["web-0", "web-1"]
    assert env.claims()["www-web-2"]["status"]["phase"] == "Bound"
    wait_for(lambda: env.sts()["status"].get("replicas") == 2, 30, what="status replicas 2")

    # -- rollout restart: pods replaced from the highest ordinal, keeping their claims ----------
    k8py = lambda *a: run(env.kubeconfig, ns, *a)  # noqa: E731
    before = env.sts()["status"]["updateRevision"]
    assert ok(k8py("rollout", "restart", "statefulset/web")) == "statefulset.apps/web restarted\n"
    done = ok(k8py("rollout", "status", "sts/web", "--timeout", "120s"))
    assert done.endswith("statefulset rolling update complete 2 pods at revision "
                         f"{env.sts()['status']['currentRevision']}...\n")
    assert env.sts()["status"]["currentRevision"] != before
    assert env.sh("web-1", "cat /data/id") == ids["web-1"]
    # The claim held back above went with the old web-0; the new one has a fresh volume.
    assert env.claims()["www-web-0"]["metadata"]["uid"] != held["metadata"]["uid"]
    assert env.sh("web-0", "cat /data/id") != ids["web-0"]
    history = ok(k8py("rollout", "history", "sts/web")).splitlines()
    assert [line.split()[0] for line in history[2:] if line] == ["1", "2"]

    # -- deleting the set takes pods, claims, volumes and data ----------------------------------
    folders = [Path(v["spec"]["hostPath"]["path"]) for v in env.volumes().values()]
    assert len(folders) == 3 and all(f.is_dir() for f in folders)
    api.delete(f"{APPS}/{ns}/statefulsets/web", propagationPolicy="Background")
    wait_for(lambda: not env.pods(), 90, what="pods gone")
    wait_for(lambda: not env.claims(), 60, what="claims gone")
    wait_for(lambda: not env.volumes(), 60, what="volumes gone")
    assert not any(f.exists() for f in folders)
    wait_for(lambda: not env.docker.containers(namespace=ns), 30, what="containers gone")
    revisions = api.get(f"{APPS}/{ns}/controllerrevisions") or {}
    wait_for(lambda: not (api.get(f"{APPS}/{ns}/controllerrevisions") or {}).get("items"), 30,
             what=f"revisions gone (had {len(revisions.get('items') or [])})")
