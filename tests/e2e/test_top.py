"""``kubectl top`` and ``k8py top`` end to end: Docker stats -> kubelet summary -> metrics.k8s.io.

The session's two kubelet processes each run one pod (bound with
``spec.nodeName``): a Python web server, for memory, beside a shell that
spins briefly twice a second, for CPU. The real ``kubectl`` 1.32 finds the
metrics group through discovery and reads NodeMetrics and PodMetrics (over
its protobuf-first client); ``k8py top`` reads the same objects. Every row
must show non-zero figures. Containers are removed by label afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, ApiServerProcess
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

HELLO = "k8py/hello:1.0"
DEBIAN = "debian:bookworm-slim"
K8PY = str(Path(sys.executable).with_name("k8py"))
KUBECTL = shutil.which("kubectl") or "kubectl"
SPIN = "while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.5; done"
CPU = r"[1-9]\d*m"
MEMORY = r"[1-9]\d*Mi"


@dataclass
class Top:
    ns: str
    kubeconfig: str
    nodes: tuple[str, str]

    def run(self, tool: str, *args: str) -> str:
        done = subprocess.run([tool, "--kubeconfig", self.kubeconfig, "-n", self.ns, "top", *args],
                              capture_output=True, timeout=30, cwd=ROOT)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()


def _pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "top", "pod": name}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [
                {"name": "web", "image": HELLO},
                {"name": "spin", "image": DEBIAN, "command": ["sh", "-c", SPIN]}]}}


def _running(api: Api, ns: str, name: str) -> bool:
    statuses = ((api.pod(ns, name) or {}).get("status") or {}).get("containerStatuses") or []
    return len(statuses) == 2 and all("running" in s.get("state", {}) for s in statuses)


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[1:]]


@pytest.fixture(scope="module")
def top(apiserver: ApiServerProcess, api: Api, kubelets: dict[str, KubeletProcess],
        docker_cluster: DockerCluster, kubeconfig: str) -> Iterator[Top]:
    ns = f"top-{os.urandom(3).hex()}"
    api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    nodes = (kubelets["n1"].node, kubelets["n2"].node)
    try:
        for index, node in enumerate(nodes, start=1):
            api.create_pod(ns, _pod(f"busy-{index}", node))
        for index in (1, 2):
            wait_for(lambda: _running(api, ns, f"busy-{index}"), 60, what=f"busy-{index} running")
        yield Top(ns, kubeconfig, nodes)
    finally:
        api.delete(f"/api/v1/namespaces/{ns}")
        docker_cluster.remove_containers(namespace=ns)


def _busy_rows(top: Top, tool: str, *args: str) -> list[list[str]]:
    """Rows of both pods once each shows CPU and memory (a new pod's first round may not)."""
    def ready() -> list[list[str]]:
        rows = _rows(top.run(tool, "pods", *args))
        named = [r for r in rows if any(cell.startswith("busy-") for cell in r)]
        if len(named) >= 2 and all(re.fullmatch(CPU, r[-2]) and re.fullmatch(MEMORY, r[-1])
                                   for r in named):
            return named
        return []
    return wait_for(ready, 40, interval=2, what=f"{tool} top pods with usage")


def test_kubectl_top_pods(top: Top) -> None:
    rows = _busy_rows(top, KUBECTL)
    assert [r[0] for r in rows] == ["busy-1", "busy-2"]
    output = top.run(KUBECTL, "pods")
    assert re.match(r"NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)", output), output

    containers = top.run(KUBECTL, "pods", "busy-1", "--containers")
    assert re.match(r"POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)", containers), containers
    assert [r[:2] for r in _rows(containers)] == [["busy-1", "spin"], ["busy-1", "web"]]

    selected = top.run(KUBECTL, "pods", "-l", "pod=busy-2")
    assert [r[0] for r in _rows(selected)] == ["busy-2"]
    everywhere = top.run(KUBECTL, "pods", "-A", "--sort-by=memory")
    assert everywhere.startswith("NAMESPACE")
    assert {r[1] for r in _rows(everywhere) if r[0] == top.ns} == {"busy-1", "busy-2"}


def test_kubectl_get_metrics_objects(top: Top) -> None:
    done = subprocess.run([KUBECTL, "--kubeconfig", top.kubeconfig, "-n", top.ns, "get",
                           "podmetrics"], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    header, *lines = done.stdout.decode().splitlines()
    assert header.split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert [line.split()[0] for line in lines] == ["busy-1", "busy-2"]
    assert all(line.split()[3] == "10s" for line in lines)


def test_kubectl_top_nodes(top: Top) -> None:
    output = top.run(KUBECTL, "nodes")
    header, *lines = output.splitlines()
    assert header.split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"] or \
        header.split()[:3] == ["NAME", "CPU(cores)", "CPU%"], output
    rows = {line.split()[0]: line.split() for line in lines}
    for node in top.nodes:
        name, cpu, cpu_share, memory, memory_share = rows[node]
        assert re.fullmatch(CPU, cpu) and re.fullmatch(MEMORY, memory), rows[node]
        assert re.fullmatch(r"\d+%", cpu_share) and re.fullmatch(r"\d+%", memory_share)
    one = top.run(KUBECTL, "nodes", top.nodes[0])
    assert [r[0] for r in _rows(one)] == [top.nodes[0]]


def test_k8py_top_pods(top: Top) -> None:
    rows = _busy_rows(top, K8PY)
    assert [r[0] for r in rows] == ["busy-1", "busy-2"]
    output = top.run(K8PY, "pods", "--containers", "--sort-by=cpu")
    assert output.split("\n", 1)[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert sorted(r[1] for r in _rows(output)) == ["spin", "spin", "web", "web"]
    selected = top.run(K8PY, "pods", "-l", "pod=busy-1")
    assert [r[0] for r in _rows(selected)] == ["busy-1"]


def test_k8py_top_nodes(top: Top) -> None:
    output = top.run(K8PY, "nodes")
    header, *lines = output.splitlines()
    kubectl_header = top.run(KUBECTL, "nodes").splitlines()[0]
    assert header.split() == kubectl_header.split()
    rows = {line.split()[0]: line.split() for line in lines}
    for node in top.nodes:
        _, cpu, cpu_share, memory, memory_share = rows[node]
        assert re.fullmatch(CPU, cpu) and re.fullmatch(MEMORY, memory), rows[node]
        assert re.fullmatch(r"\d+%", cpu_share) and re.fullmatch(r"\d+%", memory_share)
