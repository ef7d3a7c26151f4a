"""A whole process-mode cluster for service networking: control plane plus two full nodes.

``tests/e2e/conftest.py`` gives etcd, the API server, a Docker network and
the kubelet process wrapper; this module adds what Services need on top --
the controller manager (Deployments, EndpointSlices, LoadBalancer IPs), the
scheduler, and per node a kubelet plus a kube-proxy sharing a loopback node
IP (127.0.1.1, 127.0.1.2), as the compose cluster runs them.  The nodes carry
a label naming the session so workloads can be pinned to them, away from
other fixtures' proxy-less nodes.  ``bench/service.py`` reuses it outside
pytest.  Only loopback and the session's own containers are contacted.
"""

from __future__ import annotations

import random
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx

from tests.conftest import ROOT, free_port, stop_process
from tests.e2e.conftest import (
    DockerCluster,
    KubeletProcess,
    health_ready,
    read_log,
    start_module,
    wait_for,
)

__all__ = ["Component", "Node", "ServiceCluster", "scheduler_and_controllers", "NODE_LABEL", "TOOLBOX", "HELLO", "running",
           "deployment", "service", "client_pod", "exec_in", "pod_container", "sandbox_pid"]

NODE_LABEL = "e2e.k8py.io/service-nodes"
TOOLBOX = "k8py/toolbox:dev"
HELLO = "k8py/hello:1.0"

C = TypeVar("C", bound="ServiceCluster")


class Component:
    """One k8py component run as ``python -m <module>`` with a health port."""

    def __init__(self, name: str, module: str, args: list[str], log_dir: Path) -> None:
        self.name = name
        self.module = module
        self.args = args
        self.health_port = free_port()
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.proc = start_module(self.module, [
            *self.args, "--health-address", "127.0.0.1", "--health-port", str(self.health_port)],
            self.log_path)
        wait_for(self.ready, timeout, what=f"{self.name} ready")

    def ready(self) -> bool:
        return health_ready(self.proc, self.health_port, self.name, self.log_path)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.health_port}/metrics", timeout=5).text

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the process and wait for it; its exit code."""
        return stop_process(self.proc, 15, sig)

    def logs(self) -> str:
        return read_log(self.log_path)


@dataclass
class Node:
    name: str
    ip: str
    kubelet: KubeletProcess
    proxy: Component


class ServiceCluster:
    """Controllers, scheduler and two kubelet + kube-proxy nodes against one API server."""

    def __init__(self, api_url: str, docker_cluster: DockerCluster, log_dir: Path,
                 node_ips: tuple[str, ...] = ("127.0.1.1", "127.0.1.2")) -> None:
        self.api_url = api_url
        self.docker = docker_cluster
        # A pool of its own per session, so concurrent runs never share an ingress address.
        third, fourth = random.randint(3, 250), 16 * random.randint(0, 15)
        self.lb_range = f"127.0.{third}.{fourth}/28"
        self.controllers = Component("controllers", "controllers", [
            "--master", api_url, "--no-leader-elect", "--load-balancer-ip-range", self.lb_range,
            "--node-monitor-grace-period", "60s"], log_dir)
        self.scheduler = Component("scheduler", "scheduler", [
            "--master", api_url, "--no-leader-elect"], log_dir)
        self.nodes: list[Node] = []
        for index, ip in enumerate(node_ips, start=1):
            name = f"{docker_cluster.name}-s{index}"
            kubelet = KubeletProcess(api_url, docker_cluster, name, log_dir, extra=[
                "--node-ip", ip, "--node-labels", f"{NODE_LABEL}={docker_cluster.name}"])
            proxy = Component(f"kube-proxy-{index}", "kubeproxy", [
                "--master", api_url, "--node-name", name, "--node-ip", ip,
                "--cluster-name", docker_cluster.name, "--sync-period", "10",
                "--log-level", "debug"], log_dir)
            self.nodes.append(Node(name, ip, kubelet, proxy))

    @property
    def node_selector(self) -> dict[str, str]:
        return {NODE_LABEL: self.docker.name}

    def start(self) -> None:
        for image in (TOOLBOX, HELLO):
            try:
                self.docker.client.images.get(image)
            except docker.errors.ImageNotFound:
                subprocess.run(["bash", str(ROOT / "images" / "build.sh"), "toolbox", "hello"],
                               check=True, timeout=1800)
        self.controllers.start()
        self.scheduler.start()
        for node in self.nodes:
            node.proxy.start()
            node.kubelet.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.kubelet.stop()
            node.proxy.stop()
        self.scheduler.stop()
        self.controllers.stop()

    def logs(self) -> str:
        parts = [self.controllers, self.scheduler, *(n.proxy for n in self.nodes)]
        return "\n".join(f"==== {c.name}\n{c.logs()[-4000:]}" for c in parts)


@contextmanager
def scheduler_and_controllers(api_url: str, log_dir: Path, controllers: list[str],
                  extra: list[str] | None = None) -> Iterator[list[Component]]:
    """A scheduler and a controller manager running ``controllers`` (plus ``extra`` flags)
    for the block, neither electing a leader; stopped in reverse, also after a failed start."""
    common = ["--master", api_url, "--no-leader-elect"]
    started: list[Component] = []
    try:
        for component in (Component("scheduler", "scheduler", common, log_dir),
                          Component("controllers", "controllers", [
                              *common, "--controllers", ",".join(controllers),
                              *(extra or [])], log_dir)):
            started.append(component)
            component.start()
        yield started
    finally:
        for component in reversed(started):
            component.stop()


@contextmanager
def running(cluster: C) -> Iterator[C]:
    """Start the cluster for the block and stop it after, also when starting failed half-way.

    A start that failed may have left some processes running; they must not
    outlive the test module.
    """
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def deployment(name: str, replicas: int, selector: dict[str, str], *,
               labels: dict[str, str] | None = None, image: str = HELLO) -> dict[str, Any]:
    """hello behind an exec readiness probe that a test can fail by creating /tmp/unready."""
    pod_labels = {"app": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": pod_labels}, "spec": {
                     "nodeSelector": selector, "terminationGracePeriodSeconds": 2,
                     "containers": [{
                         "name": "web", "image": image,
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "readinessProbe": {"exec": {"command": ["sh", "-c",
                                                                 "test ! -e /tmp/unready"]},
                                            "periodSeconds": 1, "failureThreshold": 2,
                                            "timeoutSeconds": 5}}]}}}}


def service(name: str, selector: dict[str, str] | None, ports: list[dict[str, Any]],
            **spec: Any) -> dict[str, Any]:
    """A Service manifest; without a selector, one whose endpoints no controller manages."""
    body: dict[str, Any] = {"ports": ports, **spec}
    if selector:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def client_pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "client", "image": TOOLBOX,
                                     "command": ["sleep", "infinity"]}]}}


def pod_container(cluster: DockerCluster, namespace: str, pod: str, container: str) -> Any:
    [found] = [c for c in cluster.containers(namespace=namespace, pod=pod, container=container)
               if c.status == "running"]
    return found


def exec_in(cluster: DockerCluster, namespace: str, pod: str, container: str,
            *command: str) -> tuple[int, str]:
    code, out = pod_container(cluster, namespace, pod, container).exec_run(list(command))
    return int(code), out.decode(errors="replace")


def sandbox_pid(cluster: DockerCluster, namespace: str, pod: str) -> int:
    [sandbox] = [c for c in cluster.containers(namespace=namespace, pod=pod, kind="sandbox")
                 if c.status == "running"]
    sandbox.reload()
    return int(sandbox.attrs["State"]["Pid"])
