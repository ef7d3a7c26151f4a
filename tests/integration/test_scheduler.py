"""``python -m scheduler`` as a real process over a real API server and etcd.

Nodes are plain API objects with a Ready condition and allocatable (no
kubelet needed).  Other tests in the session may leave nodes of their own,
so each test labels its nodes with a run id and pins its pods to them with a
nodeSelector; failure messages are then checked for their reasons rather
than for exact node totals.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import ROOT, ApiServerProcess, free_port, stop_process, wait_http
from tests.integration import polling

pytestmark = pytest.mark.integration

T = TypeVar("T")
RUN_LABEL = "k8py.test/run"
Obj = dict[str, Any]


class SchedulerProcess:
    def __init__(self, server: str, *extra: str) -> None:
        self.health_port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="k8py-scheduler-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--master", server,
             "--health-address", "127.0.0.1", "--health-port", str(self.health_port),
             "--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
             "--leader-elect-retry-period", "1", *extra],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.health_port}/readyz", 30, self.proc)

    def stop(self) -> int | None:
        return stop_process(self.proc)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def eventually(fn: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """``polling.eventually`` with ``what`` first, as this module's calls pass it."""
    return polling.eventually(fn, timeout, what, interval=0.1)


class Cluster:
    """Nodes and pods of one test, created through the API and removed afterwards."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.run = namespace
        self.nodes: list[str] = []

    def node(self, name: str, *, cpu: str = "2", memory: str = "4Gi",
             labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> str:
        name = f"{self.run}-{name}"
        allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
        body = {"metadata": {"name": name, "labels": {RUN_LABEL: self.run,
                                                      "kubernetes.io/hostname": name,
                                                      **(labels or {})}},
                "spec": {"taints": taints or []},
                "status": {"capacity": allocatable, "allocatable": allocatable,
                           "conditions": [{"type": "Ready", "status": "True",
                                           "reason": "KubeletReady"}]}}
        r = httpx.post(f"{self.url}/api/v1/nodes", json=body)
        assert r.status_code == 201, r.text
        self.nodes.append(name)
        return name

    def pod(self, name: str, *, cpu: str = "100m", labels: dict[str, str] | None = None,
            node_selector: dict[str, str] | None = None, scheduler: str | None = None,
            tolerations: list[Obj] | None = None, owner: Obj | None = None) -> None:
        spec: Obj = {"containers": [{"name": "c", "image": "k8py/hello:1.0",
                                     "resources": {"requests": {"cpu": cpu}}}],
                     "nodeSelector": {RUN_LABEL: self.run, **(node_selector or {})}}
        if scheduler:
            spec["schedulerName"] = scheduler
        if tolerations:
            spec["tolerations"] = tolerations
        meta: Obj = {"name": name, "labels": labels or {}}
        if owner:
            meta["ownerReferences"] = [owner]
        r = httpx.post(f"{self.url}/api/v1/namespaces/{self.namespace}/pods",
                       json={"metadata": meta, "spec": spec})
        assert r.status_code == 201, r.text

    def get_pod(self, name: str) -> Obj:
        r = httpx.get(f"{self.url}/api/v1/namespaces/{self.namespace}/pods/{name}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def node_of(self, name: str) -> str | None:
        node = self.get_pod(name)["spec"].get("nodeName")
        return str(node) if node else None

    def bound(self, *names: str, timeout: float = 15.0) -> dict[str, str]:
        def all_bound() -> dict[str, str] | None:
            placed = {n: self.node_of(n) for n in names}
            return placed if all(placed.values()) else None  # type: ignore[return-value]
        return eventually(all_bound, f"pods {names} to be bound", timeout)

    def events(self, reason: str, pod: str | None = None) -> list[Obj]:
        r = httpx.get(f"{self.url}/api/v1/namespaces/{self.namespace}/events")
        return [e for e in r.json()["items"] if e["reason"] == reason
                and (pod is None or e["involvedObject"]["name"] == pod)]

    def cleanup(self) -> None:
        for name in self.nodes:
            httpx.delete(f"{self.url}/api/v1/nodes/{name}")


@pytest.fixture(scope="module")
def scheduler(apiserver: ApiServerProcess) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(apiserver.url)
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.logs()


@pytest.fixture
def cluster(apiserver: ApiServerProcess, namespace: str) -> Iterator[Cluster]:
    c = Cluster(apiserver.url, namespace)
    try:
        yield c
    finally:
        c.cleanup()


def test_replicas_spread_over_two_nodes(scheduler: SchedulerProcess, cluster: Cluster) -> None:
    cluster.node("a")
    cluster.node("b")
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
             "uid": str(uuid.uuid4()), "controller": True}
    names = [f"web-{i}" for i in range(6)]
    for name in names:
        cluster.pod(name, owner=owner)
    placed = cluster.bound(*names)
    assert sorted(placed.values()).count(f"{cluster.run}-a") == 3, placed
    pod = cluster.get_pod("web-0")
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled and scheduled[0]["status"] == "True"
    event = eventually(lambda: cluster.events("Scheduled", "web-0"), "the Scheduled event")[0]
    assert event["type"] == "Normal" and event["source"]["component"] == "default-scheduler"
    assert event["message"] == f"Successfully assigned {cluster.namespace}/web-0 to {placed['web-0']}"


def test_too_big_pod_waits_for_a_node_with_room(scheduler: SchedulerProcess,
                                                cluster: Cluster) -> None:
    cluster.node("small-1", cpu="1")
    cluster.node("small-2", cpu="1")
    cluster.pod("big", cpu="3")
    event = eventually(lambda: cluster.events("FailedScheduling", "big"), "FailedScheduling")[0]
    assert event["type"] == "Warning" and event["source"]["component"] == "default-scheduler"
    message = event["message"]
    assert re.match(r"^0/\d+ nodes are available: ", message), message
    assert "2 Insufficient cpu" in message
    assert "preemption: 0/" in message and "2 No preemption victims found" in message

    def unschedulable() -> Obj | None:
        conditions = cluster.get_pod("big").get("status", {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "PodScheduled"
                     and c["status"] == "False"), None)

    condition = eventually(unschedulable, "PodScheduled=False")
    assert condition["reason"] == "Unschedulable" and condition["message"] == message
    assert cluster.node_of("big") is None
    roomy = cluster.node("roomy", cpu="4")
    assert cluster.bound("big") == {"big": roomy}


def test_node_selector_picks_the_labelled_node(scheduler: SchedulerProcess,
                                               cluster: Cluster) -> None:
    cluster.node("plain")
    ssd = cluster.node("ssd", labels={"disk": "ssd"})
    for i in range(3):
        cluster.pod(f"db-{i}", node_selector={"disk": "ssd"})
    assert set(cluster.bound("db-0", "db-1", "db-2").values()) == {ssd}


def test_taints_without_toleration_are_avoided(scheduler: SchedulerProcess,
                                               cluster: Cluster) -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    tainted = cluster.node("gpu", taints=[taint])
    clean = cluster.node("clean")
    for i in range(4):
        cluster.pod(f"app-{i}")
    placed = cluster.bound(*(f"app-{i}" for i in range(4)))
    assert set(placed.values()) == {clean}
    toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu",
                  "effect": "NoSchedule"}
    cluster.pod("trainer", tolerations=[toleration], node_selector={"kubernetes.io/hostname": tainted})
    assert cluster.bound("trainer") == {"trainer": tainted}
    cluster.pod("stray", node_selector={"kubernetes.io/hostname": tainted})
    event = eventually(lambda: cluster.events("FailedScheduling", "stray"), "FailedScheduling")[0]
    assert "1 node(s) had untolerated taint {dedicated: gpu}" in event["message"]


def test_two_schedulers_one_leader_binds(apiserver: ApiServerProcess, cluster: Cluster) -> None:
    name = f"ha-{cluster.run}"[:63]
    args = ("--scheduler-name", name, "--leader-elect-resource-name", name)
    first = SchedulerProcess(apiserver.url, *args)
    second = SchedulerProcess(apiserver.url, *args)
    try:
        cluster.node("a")
        cluster.node("b")
        names = [f"ha-{i}" for i in range(8)]
        for pod in names:
            cluster.pod(pod, scheduler=name)
        cluster.bound(*names)

        def lease_holder() -> str | None:
            r = httpx.get(f"{apiserver.url}/apis/coordination.k8s.io/v1/namespaces/"
                          f"kube-system/leases/{name}")
            return r.json()["spec"].get("holderIdentity") if r.status_code == 200 else None

        holder = eventually(lease_holder, "a lease holder")
        scheduled = eventually(
            lambda: (lambda evs: evs if len(evs) >= len(names) else None)(
                cluster.events("Scheduled")), "a Scheduled event per pod")
        assert sorted(e["involvedObject"]["name"] for e in scheduled) == sorted(names)
        assert {e["source"]["host"] for e in scheduled} == {holder}
        assert all(e["count"] == 1 and e["source"]["component"] == name for e in scheduled)
        became = f"{holder} became leader"
        leader, standby = (first, second) if became in first.logs() else (second, first)
        assert became in leader.logs() and "became leader" not in standby.logs()
        assert leader.stop() == 0
        cluster.pod("after-failover", scheduler=name)
        cluster.bound("after-failover", timeout=20)
        assert "became leader" in standby.logs()
        new_holder = eventually(lambda: (lambda h: h if h and h != holder else None)(
            lease_holder()), "the standby to hold the lease")
        event = eventually(lambda: cluster.events("Scheduled", "after-failover"), "its event")[0]
        assert event["source"]["host"] == new_holder
    finally:
        first.stop()
        second.stop()
