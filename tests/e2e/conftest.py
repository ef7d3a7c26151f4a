"""End-to-end fixtures: real kubelets on the real Docker engine, against the real API server.

``tests/conftest.py`` provides etcd and the API server.  Here: a cluster
bridge network of its own per session (a free /24, so parallel runs and a
developer's cluster never collide), kubelet processes stamped with a cluster
name unique to the session, and finalizers that remove every Docker object
carrying that cluster label even when a test fails.  Only loopback and the
session's own bridge network are ever contacted.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx
import pytest

from tests.conftest import ROOT, ApiServerProcess, free_port, running, stop_process

T = TypeVar("T")
REQUIRED_IMAGES = ("k8py/pause:3.10", "k8py/hello:1.0", "debian:bookworm-slim")


def start_module(module: str, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m <module>`` from this checkout, its output appended to ``log_path``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def read_log(log_path: Path) -> str:
    return log_path.read_text(errors="replace") if log_path.exists() else ""


def health_ready(proc: subprocess.Popen[bytes] | None, health_port: int, what: str,
                 log_path: Path) -> bool:
    """Whether a component answers ``/readyz`` yet; an exit is raised with its log's tail.

    Waiting on a process that has died would only end in a timeout that
    hides why it died.
    """
    if proc is not None and proc.poll() is not None:
        raise RuntimeError(f"{what} exited with {proc.returncode}:\n"
                           f"{read_log(log_path)[-3000:]}")
    try:
        return httpx.get(f"http://127.0.0.1:{health_port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.2,
             what: str = "condition") -> T:
    """Poll ``fn`` until it returns something truthy; its last value or a TimeoutError."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached after {timeout}s (last: {last!r})")


def _free_subnet(client: docker.DockerClient) -> str:
    used = []
    for network in client.networks.list():
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if pool.get("Subnet"):
                used.append(ipaddress.ip_network(pool["Subnet"], strict=False))
    for third in range(0, 256, 8):
        candidate = ipaddress.ip_network(f"10.231.{third}.0/21")
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RuntimeError("no free /21 left in 10.231.0.0/16 for the test network")


class DockerCluster:
    """The session's Docker side: a cluster name and a bridge network of its own.

    The network is a /21 whose first /24 is left to Docker's IPAM (pods that
    publish hostPorts, anything else attached); the rest is cut into a /26 per
    node name, the node's own pod CIDR (``kubelet.podnetwork``), as a cluster's
    IPAM would hand them out.
    """

    def __init__(self) -> None:
        self.client = docker.from_env()
        self.name = f"k8py-e2e-{uuid.uuid4().hex[:8]}"
        self.network = self.name
        self.subnet = self._create_network()
        self.root = tempfile.mkdtemp(prefix="k8py-kubelet-")
        network = ipaddress.ip_network(self.subnet)
        self._free_node_cidrs = [str(c) for c in network.subnets(new_prefix=26)][4:]
        self._node_cidrs: dict[str, str] = {}

    def _create_network(self) -> str:
        """Create the network now: test sessions running side by side race for subnets."""
        for _ in range(10):
            subnet = _free_subnet(self.client)
            docker_range = str(next(ipaddress.ip_network(subnet).subnets(new_prefix=24)))
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
                subnet=subnet, iprange=docker_range)])
            try:
                self.client.networks.create(self.network, driver="bridge", ipam=ipam,
                                            labels={"io.k8py.cluster": self.name})
                return subnet
            except docker.errors.APIError as exc:
                if "overlaps" not in str(exc):
                    raise
        raise RuntimeError("could not find a free subnet for the test network")

    def node_pod_cidr(self, node: str) -> str:
        """``node``'s own pod addresses, the same for every kubelet of that name; "" (Docker's
        IPAM) once all are handed out."""
        if node not in self._node_cidrs and self._free_node_cidrs:
            self._node_cidrs[node] = self._free_node_cidrs.pop(0)
        return self._node_cidrs.get(node, "")

    def ensure_images(self) -> None:
        missing = [i for i in REQUIRED_IMAGES if not self._has_image(i)]
        if missing:
            subprocess.run(["bash", str(ROOT / "images" / "build.sh"), "base", "pause", "hello"],
                           check=True, timeout=1800)

    def _has_image(self, name: str) -> bool:
        try:
            self.client.images.get(name)
            return True
        except docker.errors.ImageNotFound:
            return False

    def containers(self, **labels: str) -> list[Any]:
        filters = [f"io.k8py.cluster={self.name}"] + [f"io.k8py.{k.replace('_', '-')}={v}"
                                                      for k, v in labels.items()]
        found = []
        for sparse in self.client.containers.list(all=True, sparse=True,
                                                  filters={"label": filters}):
            try:  # a container may vanish between the listing and its inspection
                found.append(self.client.containers.get(sparse.id))
            except docker.errors.NotFound:
                pass
        return found

    def remove_containers(self, **labels: str) -> None:
        for container in self.containers(**labels):
            try:
                container.remove(force=True, v=True)
            except docker.errors.APIError:  # gone already, or the kubelet is removing it
                pass

    def cleanup(self) -> None:
        self.remove_containers()
        for volume in self.client.volumes.list(filters={"label": f"io.k8py.cluster={self.name}"}):
            try:
                volume.remove(force=True)
            except docker.errors.APIError:
                pass
        try:
            self.client.networks.get(self.network).remove()
        except docker.errors.NotFound:
            pass
        subprocess.run(["rm", "-rf", self.root], check=False)
        self.client.close()


class KubeletProcess:
    """``python -m kubelet`` for one node, as a child process."""

    def __init__(self, api_url: str, cluster: DockerCluster, node: str, log_dir: Path, *,
                 extra: list[str] | None = None) -> None:
        self.api_url = api_url
        self.cluster = cluster
        self.node = node
        self.port = free_port()
        self.health_port = free_port()
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / f"{node}.log"  # kept after the run, for post-mortems

    def start(self) -> None:
        args = ["--node-name", self.node,
                "--api-server", self.api_url, "--cluster-name", self.cluster.name,
                "--network", self.cluster.network, "--pod-cidr", self.cluster.subnet,
                "--node-pod-cidr", self.cluster.node_pod_cidr(self.node),
                "--root-dir", f"{self.cluster.root}/{self.node}", "--node-ip", "127.0.0.1",
                "--port", str(self.port), "--health-address", "127.0.0.1",
                "--health-port", str(self.health_port), "--heartbeat-period", "2",
                "--node-status-update-frequency", "3", "--sync-frequency", "5",
                "--container-restart-backoff", "2", "--container-restart-backoff-max", "20",
                *self.extra]
        self.proc = start_module("kubelet", args, self.log_path)
        what = f"kubelet {self.node}"
        wait_for(lambda: health_ready(self.proc, self.health_port, what, self.log_path), 60,
                 what=f"{what} ready")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc, 15)

    def logs(self) -> str:
        return read_log(self.log_path)


class Api:
    """A thin synchronous client for the calls the e2e tests make."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=15)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, path: str) -> dict[str, Any] | None:
        response = self.http.get(path)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def create_pod(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        return self.create(f"/api/v1/namespaces/{namespace}/pods", manifest)

    def delete(self, path: str, **options: Any) -> int:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **options}
        return self.http.request("DELETE", path, json=body).status_code

    def events(self, namespace: str, pod: str | None = None) -> list[dict[str, Any]]:
        params = {"fieldSelector": f"involvedObject.name={pod}"} if pod else {}
        found = self.get(f"/api/v1/namespaces/{namespace}/events?" +
                         "&".join(f"{k}={v}" for k, v in params.items()))
        return list((found or {}).get("items") or [])


@pytest.fixture(scope="session")
def docker_cluster() -> Iterator[DockerCluster]:
    yield from running(DockerCluster(), DockerCluster.ensure_images, DockerCluster.cleanup)


@pytest.fixture(scope="session")
def kubelets(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KubeletProcess]]:
    """Two kubelets as processes (nodes ``<cluster>-n1`` and ``-n2``) for the session.

    No kube-proxy runs beside them, so they do not wait for service rules.
    """
    log_dir = tmp_path_factory.mktemp("kubelet-logs")
    procs = {name: KubeletProcess(apiserver.url, docker_cluster, f"{docker_cluster.name}-{name}",
                                  log_dir, extra=["--service-rules-timeout", "0"])
             for name in ("n1", "n2")}
    try:
        for proc in procs.values():
            proc.start()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="session")
def api(apiserver: ApiServerProcess) -> Iterator[Api]:
    client = Api(apiserver.url)
    yield client
    client.http.close()


@pytest.fixture
def pod_namespace(namespace: str, api: Api, docker_cluster: DockerCluster) -> Iterator[str]:
    """A test namespace whose pods and containers are gone after the test, pass or fail."""
    try:
        yield namespace
    finally:
        pods = api.get(f"/api/v1/namespaces/{namespace}/pods") or {}
        for pod in pods.get("items") or []:
            api.delete(f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
                       gracePeriodSeconds=0)
        # Give the kubelets a moment to tear the pods down themselves, then force the rest.
        deadline = time.monotonic() + 10
        while docker_cluster.containers(namespace=namespace) and time.monotonic() < deadline:
            time.sleep(0.2)
        docker_cluster.remove_containers(namespace=namespace)
