"""Cluster add-ons for the e2e tests: cluster DNS and the ingress controller as processes.

``AddonCluster`` is ``tests/e2e/cluster.py``'s ``ServiceCluster`` (controllers,
scheduler, two kubelet + kube-proxy nodes) plus ``python -m dns`` bound to the
session bridge's gateway on port 53 -- published as kube-system/kube-dns on
10.96.0.10, which the kubelets hand their pods as ``--cluster-dns`` -- and
``python -m ingress`` on a free loopback port.  The DNS server's only
upstream is a fake resolver on 127.0.0.1 run by the test process, so no
query a pod makes can ever reach the host's own resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.dns.dnsclient import FakeUpstream
from tests.e2e.cluster import Component, ServiceCluster
from tests.e2e.conftest import Api, DockerCluster, wait_for

__all__ = ["AddonCluster", "UpstreamThread", "DNS_SERVICE_IP", "UPSTREAM_ANSWER", "steady",
           "remove_namespace", "module_namespace"]

DNS_SERVICE_IP = "10.96.0.10"
UPSTREAM_ANSWER = "192.0.2.1"  # what the fake upstream answers; never contacted


class UpstreamThread:
    """A ``FakeUpstream`` on 127.0.0.1, served from an event loop on a thread of its own."""

    def __init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-upstream",
                                       daemon=True)
        self.fake = FakeUpstream(address=UPSTREAM_ANSWER)

    def start(self) -> int:
        """Serve on a fresh port; again after ``stop`` too (a cluster restart restarts it)."""
        if self.thread.ident is not None:
            self._fresh()
        self.thread.start()
        started: Future[FakeUpstream] = asyncio.run_coroutine_threadsafe(
            self.fake.start(), self.loop)
        return started.result(10).port

    def asked(self) -> list[tuple[str, str, str]]:
        return list(self.fake.asked)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.fake.close)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def steady(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Deployment whose readiness is an HTTP check that tolerates a slow, loaded machine.

    ``cluster.deployment``'s one-second exec probe is made for tests that flip
    readiness on purpose; these tests want endpoints that stay put.
    """
    for container in manifest["spec"]["template"]["spec"]["containers"]:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                                       "periodSeconds": 2, "timeoutSeconds": 3,
                                       "failureThreshold": 3}
    return manifest


def remove_namespace(api: Api, docker: DockerCluster, namespace: str) -> None:
    """Delete a namespace and wait (while the controllers still run) until it is gone.

    Deleting only the Deployments and pods would let a ReplicaSet recreate pods
    before the garbage collector removes it; the next module's kubelets, which
    reuse the node names, would then start them.
    """
    api.delete(f"/api/v1/namespaces/{namespace}")
    try:
        wait_for(lambda: api.get(f"/api/v1/namespaces/{namespace}") is None, 60,
                 what=f"namespace {namespace} deleted")
    finally:
        docker.remove_containers(namespace=namespace)


@contextmanager
def module_namespace(api: Api, cluster: AddonCluster, prefix: str) -> Iterator[str]:
    """A namespace of this session's for a test module's workloads, removed after the block.

    Should setting the workloads up fail, the components' logs are printed
    first: the failure is usually theirs, and they are gone afterwards.
    """
    namespace = f"{prefix}-{cluster.docker.name[-8:]}"
    api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    try:
        yield namespace
    except Exception:
        print(cluster.logs())
        raise
    finally:
        remove_namespace(api, cluster.docker, namespace)


def bridge_gateway(cluster: DockerCluster) -> str:
    """The host's address on the session's cluster network (where pods reach the host)."""
    network = cluster.client.networks.get(cluster.network)
    for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            return str(pool["Gateway"])
    return str(ipaddress.ip_network(cluster.subnet).network_address + 1)


class AddonCluster(ServiceCluster):
    """A ServiceCluster whose pods resolve through cluster DNS, with an ingress controller."""

    def __init__(self, api_url: str, docker_cluster: DockerCluster, log_dir: Path) -> None:
        super().__init__(api_url, docker_cluster, log_dir)
        for node in self.nodes:
            node.kubelet.extra += ["--cluster-dns", DNS_SERVICE_IP]
        self.log_dir = log_dir
        self.upstream = UpstreamThread()
        self.ingress_port = free_port()
        self.ingress = Component("ingress", "ingress", [
            "--master", api_url, "--bind-address", "127.0.0.1",
            "--port", str(self.ingress_port)], log_dir)
        self.dns: Component | None = None
        self.gateway = ""

    def start(self) -> None:
        super().start()  # the kubelets create the bridge the DNS server binds to
        self.gateway = bridge_gateway(self.docker)
        upstream_port = self.upstream.start()
        self.dns = Component("dns", "dns", [
            "--master", self.api_url, "--bind-address", self.gateway, "--port", "53",
            "--service-ip", DNS_SERVICE_IP, "--upstream", f"127.0.0.1:{upstream_port}",
            "--publish-interval", "2"], self.log_dir)
        self.dns.start()
        self.ingress.start()

    def stop(self) -> None:
        self.ingress.stop()
        if self.dns is not None:
            self.dns.stop()
        self.upstream.stop()
        super().stop()

    def logs(self) -> str:
        extra = [c for c in (self.dns, self.ingress) if c is not None]
        return super().logs() + "\n" + "\n".join(
            f"==== {c.name}\n{c.logs()[-4000:]}" for c in extra)
