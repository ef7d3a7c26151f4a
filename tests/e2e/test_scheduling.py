"""Scheduling on real kubelets: a pod that fits nowhere waits, then runs when a node with room registers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.cluster import Component
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def scheduler(apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Component]:
    component = Component("scheduler", "scheduler", ["--master", apiserver.url], tmp_path)
    component.start()
    try:
        yield component
    finally:
        component.stop()


def _big_pod(name: str) -> dict:
    return {"metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": "k8py/hello:1.0", "imagePullPolicy": "Never",
                                     "resources": {"requests": {"cpu": "6"}}}]}}


def test_pod_that_fits_nowhere_waits_for_a_node_with_room(
        api: Api, apiserver: ApiServerProcess, docker_cluster: DockerCluster, kubelets: dict[str, KubeletProcess],
        scheduler: Component, pod_namespace: str, tmp_path: Path) -> None:
    ns = pod_namespace
    api.create_pod(ns, _big_pod("big"))

    def unschedulable() -> bool:
        pod = api.pod(ns, "big") or {}
        conds = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
        failed = [e for e in api.events(ns, "big") if e.get("reason") == "FailedScheduling"]
        return (conds.get("PodScheduled", {}).get("reason") == "Unschedulable" and bool(failed)
                and "Insufficient cpu" in failed[-1]["message"])

    wait_for(unschedulable, 30, what="FailedScheduling for a pod no node can hold")
    assert not (api.pod(ns, "big") or {}).get("spec", {}).get("nodeName")

    big = KubeletProcess(apiserver.url, docker_cluster, f"{docker_cluster.name}-big", tmp_path,
                         extra=["--service-rules-timeout", "0", "--capacity-cpu", "8"])
    big.start()
    try:
        def running_on_big() -> bool:
            pod = api.pod(ns, "big") or {}
            return (pod.get("spec", {}).get("nodeName") == big.node
                    and (pod.get("status") or {}).get("phase") == "Running")

        wait_for(running_on_big, 60, what="the pod bound to the new node and running")
        scheduled = [e for e in api.events(ns, "big") if e.get("reason") == "Scheduled"]
        assert scheduled and big.node in scheduled[-1]["message"]
        api.delete(f"/api/v1/namespaces/{ns}/pods/big")
        wait_for(lambda: api.pod(ns, "big") is None, 30, what="the pod deleted")
    finally:
        big.stop()
        # The node must not outlive the test: other tests would see a dead node with room.
        api.delete(f"/api/v1/nodes/{big.node}")
        docker_cluster.remove_containers(node=big.node)
