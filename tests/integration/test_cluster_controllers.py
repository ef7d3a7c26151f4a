"""The cluster-keeping controllers as a real ``python -m controllers`` over a real API server.

Covers garbage collection (background, foreground, orphan), namespace
deletion, the default ServiceAccount, node lifecycle with short timings and
Endpoints/EndpointSlices following pod readiness.  The test plays the
kubelet: it renews Leases and writes pod and node status itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from machinery.meta import format_micro_time, format_time, get_condition
from tests.conftest import ROOT, ApiServerProcess, free_port, stop_process, wait_http
from tests.integration.polling import eventually, ok

pytestmark = pytest.mark.integration

T = TypeVar("T")
GRACE = 4
CONTROLLERS = "replicaset,garbagecollector,namespace,serviceaccount,nodelifecycle,endpoint,endpointslice"
MERGE = {"Content-Type": "application/merge-patch+json"}


class ControllerManager:
    def __init__(self, server: str) -> None:
        self.health_port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="k8py-controllers-", suffix=".log",
                                               delete=False)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controllers", "--master", server, "--no-leader-elect",
             "--controllers", CONTROLLERS, "--node-monitor-grace-period", f"{GRACE}s",
             "--health-address", "127.0.0.1", "--health-port", str(self.health_port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        wait_http(f"http://127.0.0.1:{self.health_port}/readyz", 30, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


@pytest.fixture(scope="module")
def manager(apiserver: ApiServerProcess) -> Iterator[ControllerManager]:
    cm = ControllerManager(apiserver.url)
    try:
        cm.wait_ready()
        yield cm
    finally:
        cm.stop()


@pytest.fixture
def api(apiserver: ApiServerProcess, manager: ControllerManager) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as client:
        yield client


def gone(api: httpx.Client, path: str) -> bool:
    return api.get(path).status_code == 404


# -- garbage collection ---------------------------------------------------------------


def replicaset(api: httpx.Client, ns: str, name: str, replicas: int = 2) -> dict[str, Any]:
    rs = ok(api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json={
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))
    uid = rs["metadata"]["uid"]
    eventually(lambda: len(owned_pods(api, ns, uid)) == replicas, what=f"{replicas} pods of {name}")
    return rs


def owned_pods(api: httpx.Client, ns: str, uid: str) -> list[dict[str, Any]]:
    items = ok(api.get(f"/api/v1/namespaces/{ns}/pods"))["items"]
    return [p for p in items
            if any(r["uid"] == uid for r in p["metadata"].get("ownerReferences") or [])]


def test_background_deletion_removes_dependents(api: httpx.Client, namespace: str) -> None:
    rs = replicaset(api, namespace, "bg")
    pods = [p["metadata"]["name"] for p in owned_pods(api, namespace, rs["metadata"]["uid"])]

    ok(api.request("DELETE", f"/apis/apps/v1/namespaces/{namespace}/replicasets/bg",
                   json={"propagationPolicy": "Background"}))

    eventually(lambda: all(gone(api, f"/api/v1/namespaces/{namespace}/pods/{p}") for p in pods),
               what="dependent pods deleted")


def test_dependent_configmap_of_missing_owner_is_collected(api: httpx.Client,
                                                           namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    owner = ok(api.post(base, json={"metadata": {"name": "owner"}}))
    ok(api.post(base, json={"metadata": {"name": "child", "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
        "uid": owner["metadata"]["uid"]}]}}))
    ok(api.post(base, json={"metadata": {"name": "orphan-from-birth", "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "no-such-uid"}]}}))

    eventually(lambda: gone(api, f"{base}/orphan-from-birth"), what="dangling child collected")
    assert api.get(f"{base}/child").status_code == 200
    ok(api.delete(f"{base}/owner"))
    eventually(lambda: gone(api, f"{base}/child"), what="child of deleted owner collected")


def test_foreground_deletion_waits_for_dependents(api: httpx.Client, namespace: str) -> None:
    rs = replicaset(api, namespace, "fg")
    path = f"/apis/apps/v1/namespaces/{namespace}/replicasets/fg"

    deleting = ok(api.request("DELETE", path, json={"propagationPolicy": "Foreground"}))

    assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
    eventually(lambda: gone(api, path), what="foreground owner deleted")
    assert owned_pods(api, namespace, rs["metadata"]["uid"]) == []


def test_orphan_deletion_keeps_dependents_without_the_reference(api: httpx.Client,
                                                                namespace: str) -> None:
    rs = replicaset(api, namespace, "or")
    names = {p["metadata"]["name"] for p in owned_pods(api, namespace, rs["metadata"]["uid"])}
    path = f"/apis/apps/v1/namespaces/{namespace}/replicasets/or"

    ok(api.request("DELETE", path, json={"propagationPolicy": "Orphan"}))

    eventually(lambda: gone(api, path), what="orphaning owner deleted")
    pods = {p["metadata"]["name"]: p
            for p in ok(api.get(f"/api/v1/namespaces/{namespace}/pods"))["items"]}
    assert names <= set(pods)
    assert all(not pods[n]["metadata"].get("ownerReferences") for n in names)


# -- namespaces and service accounts ---------------------------------------------------------


def test_default_service_account_appears_and_comes_back(api: httpx.Client,
                                                        namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    first = eventually(lambda: api.get(path).status_code == 200 and api.get(path).json(),
                       what="default ServiceAccount")

    ok(api.delete(path))

    again = eventually(lambda: api.get(path).status_code == 200 and api.get(path).json(),
                       what="default ServiceAccount recreated")
    assert again["metadata"]["uid"] != first["metadata"]["uid"]


def test_deleting_a_namespace_removes_its_content_then_itself(api: httpx.Client) -> None:
    ns = f"doomed-{os.urandom(3).hex()}"
    ok(api.post("/api/v1/namespaces", json={"metadata": {"name": ns}}))
    base = f"/api/v1/namespaces/{ns}"
    ok(api.post(f"{base}/configmaps", json={"metadata": {"name": "cm"}}))
    ok(api.post(f"{base}/configmaps", json={"metadata": {"name": "held",
                                                         "finalizers": ["example.com/hold"]}}))
    ok(api.post(f"{base}/secrets", json={"metadata": {"name": "s"}}))
    ok(api.post(f"{base}/services", json={"metadata": {"name": "svc"},
                                          "spec": {"ports": [{"port": 80}]}}))
    ok(api.post(f"{base}/pods", json={"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}]}}))
    replicaset(api, ns, "rs", replicas=1)

    ok(api.delete(f"/api/v1/namespaces/{ns}"))

    def held_only() -> dict[str, Any] | None:
        namespace = api.get(f"/api/v1/namespaces/{ns}").json()
        cond = get_condition(namespace.get("status", {}).get("conditions"),
                             "NamespaceContentRemaining")
        return namespace if cond and cond["message"] == \
            "Some resources are remaining: configmaps. has 1 resource instances" else None

    namespace_obj = eventually(held_only, what="only the held configmap remaining")
    assert namespace_obj["status"]["phase"] == "Terminating"
    for path in ("secrets/s", "services/svc", "pods/p", "configmaps/cm"):
        assert gone(api, f"{base}/{path}"), path
    assert ok(api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets"))["items"] == []

    ok(api.patch(f"{base}/configmaps/held", json={"metadata": {"finalizers": None}},
                 headers=MERGE))
    eventually(lambda: gone(api, f"/api/v1/namespaces/{ns}"), what="namespace removed")


# -- node lifecycle --------------------------------------------------------------------------


def now_micro() -> str:
    from datetime import datetime, timezone
    return format_micro_time(datetime.now(timezone.utc))


def now_time() -> str:
    from datetime import datetime, timezone
    return format_time(datetime.now(timezone.utc))


def post_node_status(api: httpx.Client, name: str, ready: str) -> None:
    node = ok(api.get(f"/api/v1/nodes/{name}"))
    stamp = now_time()
    node["status"] = {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                      "message": "kubelet is posting ready status",
                                      "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}]}
    ok(api.put(f"/api/v1/nodes/{name}/status", json=node))


def renew_lease(api: httpx.Client, name: str) -> None:
    ok(api.patch(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}",
                 json={"spec": {"renewTime": now_micro()}}, headers=MERGE))


def set_pod_status(api: httpx.Client, ns: str, name: str, ip: str, ready: bool) -> None:
    pod = ok(api.get(f"/api/v1/namespaces/{ns}/pods/{name}"))
    flag = "True" if ready else "False"
    pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                     "conditions": [{"type": "Ready", "status": flag},
                                    {"type": "ContainersReady", "status": flag}]}
    ok(api.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod))


def test_silent_node_is_marked_unknown_tainted_evicted_and_recovers(api: httpx.Client,
                                                                   namespace: str) -> None:
    name = f"lc-{os.urandom(3).hex()}"
    ok(api.post("/api/v1/nodes", json={"metadata": {"name": name}}))
    post_node_status(api, name, "True")
    ok(api.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", json={
        "metadata": {"name": name}, "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                             "renewTime": now_micro()}}))
    tolerations = [{"key": f"node.kubernetes.io/{key}", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 2}
                   for key in ("unreachable", "not-ready")]
    ok(api.post(f"/api/v1/namespaces/{namespace}/pods", json={
        "metadata": {"name": "victim"},
        "spec": {"nodeName": name, "tolerations": tolerations,
                 "containers": [{"name": "c", "image": "busybox"}]}}))
    set_pod_status(api, namespace, "victim", "10.77.0.1", ready=True)
    try:
        # a renewed lease keeps the node healthy past the grace period
        start = time.monotonic()
        while time.monotonic() - start < GRACE + 1:
            renew_lease(api, name)
            time.sleep(0.5)
        node = ok(api.get(f"/api/v1/nodes/{name}"))
        assert get_condition(node["status"]["conditions"], "Ready")["status"] == "True"  # type: ignore[index]
        assert not node["spec"].get("taints")

        # silence: Unknown, unreachable taints, pod not ready, then evicted
        def unknown() -> dict[str, Any] | None:
            n = ok(api.get(f"/api/v1/nodes/{name}"))
            ready = get_condition(n["status"]["conditions"], "Ready")
            return n if ready and ready["status"] == "Unknown" else None

        node = eventually(unknown, timeout=GRACE + 6, what="node Ready=Unknown")
        ready = get_condition(node["status"]["conditions"], "Ready")
        assert ready is not None and ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        taints = eventually(lambda: {(t["key"], t["effect"]) for t in ok(api.get(
            f"/api/v1/nodes/{name}"))["spec"].get("taints") or []}, what="taints")
        assert taints == {("node.kubernetes.io/unreachable", "NoExecute"),
                          ("node.kubernetes.io/unreachable", "NoSchedule")}

        def evicted() -> bool:
            r = api.get(f"/api/v1/namespaces/{namespace}/pods/victim")
            return r.status_code == 404 or bool(r.json()["metadata"].get("deletionTimestamp"))

        eventually(evicted, timeout=8, what="pod evicted after tolerationSeconds")
        victim = api.get(f"/api/v1/namespaces/{namespace}/pods/victim")
        if victim.status_code == 200:
            cond = get_condition(victim.json()["status"]["conditions"], "Ready")
            assert cond is not None and cond["status"] == "False"
        # Events are written in the background: wait for it rather than read once.
        eventually(lambda: any(e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == name
                               for e in ok(api.get("/api/v1/namespaces/default/events"))["items"]),
                   what="a NodeNotReady event")

        # the kubelet is back: lease renewed and Ready posted; taints go
        renew_lease(api, name)
        post_node_status(api, name, "True")
        eventually(lambda: not ok(api.get(f"/api/v1/nodes/{name}"))["spec"].get("taints"),
                   what="taints removed")
    finally:
        api.delete(f"/api/v1/nodes/{name}")


# -- endpoints --------------------------------------------------------------------------------


def within_a_second(fn: Callable[[], T | None], what: str) -> T:
    return eventually(fn, timeout=1.0, interval=0.02, what=what)


def test_endpoints_and_slices_follow_pod_readiness(api: httpx.Client, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}"
    ok(api.post(f"{base}/services", json={"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
    ok(api.post(f"{base}/pods", json={"metadata": {"name": "web-1", "labels": {"app": "web"}},
                                      "spec": {"containers": [{
                                          "name": "c", "image": "nginx",
                                          "ports": [{"name": "http", "containerPort": 8080}]}]}}))
    set_pod_status(api, namespace, "web-1", "10.88.0.5", ready=False)

    def endpoints() -> dict[str, Any] | None:
        r = api.get(f"{base}/endpoints/web")
        return r.json() if r.status_code == 200 else None

    def slice_endpoint() -> dict[str, Any] | None:
        slices = ok(api.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                            params={"labelSelector": "kubernetes.io/service-name=web"}))["items"]
        found = [e for s in slices for e in s.get("endpoints") or []]
        return found[0] if len(slices) == 1 and len(found) == 1 else None

    not_ready = eventually(lambda: (e := endpoints()) and e.get("subsets") and e,
                           what="endpoints with the unready pod")
    assert not_ready["subsets"] == [{
        "notReadyAddresses": [{"ip": "10.88.0.5", "targetRef": {
            "kind": "Pod", "namespace": namespace, "name": "web-1",
            "uid": ok(api.get(f"{base}/pods/web-1"))["metadata"]["uid"]}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
    endpoint = eventually(slice_endpoint, what="slice with the unready pod")
    assert endpoint["conditions"] == {"ready": False, "serving": False, "terminating": False}

    set_pod_status(api, namespace, "web-1", "10.88.0.5", ready=True)

    within_a_second(lambda: (e := endpoints()) and e["subsets"][0].get("addresses"),
                    what="endpoints address ready")
    within_a_second(lambda: (e := slice_endpoint()) and e["conditions"]["ready"],
                    what="slice endpoint ready")

    set_pod_status(api, namespace, "web-1", "10.88.0.5", ready=False)
    within_a_second(lambda: (e := endpoints()) and e["subsets"][0].get("notReadyAddresses"),
                    what="endpoints address not ready again")

    # settled: the controllers find nothing to change in what the server stored
    def versions() -> list[str]:
        slices = ok(api.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"))
        return [ok(api.get(f"{base}/endpoints/web"))["metadata"]["resourceVersion"]] + \
            [s["metadata"]["resourceVersion"] for s in slices["items"]]

    eventually(lambda: (slice_endpoint() or {}).get("conditions", {}).get("ready") is False,
               what="slice endpoint not ready again")
    settled = versions()
    time.sleep(1.0)
    assert versions() == settled

    ok(api.delete(f"{base}/services/web"))
    eventually(lambda: gone(api, f"{base}/endpoints/web"), what="endpoints removed")
    eventually(lambda: slice_endpoint() is None and not ok(api.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"))["items"],
        what="slices removed by the garbage collector")
