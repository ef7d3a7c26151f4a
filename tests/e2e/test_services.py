"""Service networking end to end: ClusterIP, NodePort and LoadBalancer on real Docker.

The whole cluster runs as processes (``tests/e2e/cluster.py``): two nodes,
each a kubelet and a kube-proxy on its own loopback IP.  A 3-replica hello
Deployment sits behind a ClusterIP Service whose ``targetPort`` is named,
and a toolbox client pod on each node talks to it.  Every probe goes to
loopback or to the session's own pods and namespaces; the one packet aimed
at an unallocated ClusterIP is shown to die inside the client pod.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.cluster import ServiceCluster, client_pod, deployment, exec_in, pod_container, \
    running, sandbox_pid, service
from tests.e2e.conftest import Api, DockerCluster, wait_for

pytestmark = pytest.mark.e2e

UNALLOCATED = "10.96.255.254"
WEB_PORT = {"name": "web", "port": 80, "targetPort": "http"}  # to the pods' named port
HELLO = re.compile(r"Hello from (\S+) \(version")
# Holds one HTTP request open, header by header, as stdin says; then prints the reply.
SLOW_REQUEST = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
s.sendall(b"GET / HTTP/1.1\\r\\n")
print("connected", flush=True)
for line in sys.stdin:
    if line.strip() == "end":
        break
    s.sendall(b"X-Step: " + line.strip().encode() + b"\\r\\n")
s.sendall(b"Host: web\\r\\n\\r\\n")
print(s.recv(4096).decode(), flush=True)
"""


@dataclass
class App:
    api: Api
    docker: DockerCluster
    cluster: ServiceCluster
    ns: str
    cluster_ip: str
    clients: list[str]

    def curl(self, client: str, url: str, *args: str) -> tuple[int, str]:
        return exec_in(self.docker, self.ns, client, "client", "curl", "-s", "-m", "3", *args,
                       url)

    def replicas(self, ready_only: bool = True) -> dict[str, str]:
        """Pod name -> IP of the web replicas (ready ones unless asked otherwise)."""
        pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods?labelSelector=app%3Dweb") or {}
        out = {}
        for pod in pods.get("items") or []:
            status = pod.get("status") or {}
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in status.get("conditions") or [])
            if status.get("podIP") and (ready or not ready_only) \
                    and not pod["metadata"].get("deletionTimestamp"):
                out[pod["metadata"]["name"]] = status["podIP"]
        return out

    def ready_endpoints(self, service: str = "web") -> set[str]:
        slices = self.api.get(f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices"
                              f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}") or {}
        return {e["addresses"][0] for s in slices.get("items") or []
                for e in s.get("endpoints") or [] if e["conditions"].get("ready")}

    def hits(self, client: str, count: int = 20) -> list[str]:
        """Who answered each of ``count`` requests (``exit <code>`` for failed ones)."""
        _, out = exec_in(self.docker, self.ns, client, "client", "sh", "-c",
                         f"for i in $(seq {count}); do curl -s -m 5 "
                         f"http://{self.cluster_ip}/ || echo \"exit $?\"; done")
        return [m.group(1) or f"exit {m.group(2)}"
                for m in re.finditer(r"Hello from (\S+) \(version|exit (\d+)", out)]

    def scale(self, replicas: int) -> None:
        response = self.api.http.patch(
            f"/apis/apps/v1/namespaces/{self.ns}/deployments/web",
            json={"spec": {"replicas": replicas}},
            headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text

    def nat_rules(self, client: str) -> str:
        pid = sandbox_pid(self.docker, self.ns, client)
        return subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables-save", "-t", "nat"],
                              capture_output=True, text=True, check=True).stdout

    def service(self, name: str, **spec: object) -> dict[str, Any]:
        """A Service in front of the web replicas."""
        return self.api.create(f"/api/v1/namespaces/{self.ns}/services",
                               service(name, {"app": "web"}, [WEB_PORT], **spec))


@pytest.fixture(scope="module")
def service_cluster(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceCluster]:
    with running(ServiceCluster(apiserver.url, docker_cluster,
                                Path(tmp_path_factory.mktemp("service-cluster")))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def app(api: Api, docker_cluster: DockerCluster, service_cluster: ServiceCluster) -> Iterator[App]:
    ns = f"svc-{docker_cluster.name[-8:]}"
    api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    try:
        api.create(f"/apis/apps/v1/namespaces/{ns}/deployments",
                   deployment("web", 3, service_cluster.node_selector))
        svc = api.create(f"/api/v1/namespaces/{ns}/services",
                         service("web", {"app": "web"}, [WEB_PORT]))
        state = App(api, docker_cluster, service_cluster, ns, svc["spec"]["clusterIP"], [])
        wait_for(lambda: len(state.ready_endpoints()) == 3, 90, what="3 ready endpoints")
        for index, node in enumerate(service_cluster.nodes, start=1):
            name = f"client-{index}"
            manifest = client_pod(name, node.name)
            # The very first thing the client does: reach the Service.
            manifest["spec"]["containers"][0]["command"] = [
                "sh", "-c", f"curl -s -m 3 -o /tmp/first http://{state.cluster_ip}/; "
                            "exec sleep infinity"]
            api.create_pod(ns, manifest)
            state.clients.append(name)
        for name in state.clients:
            wait_for(lambda: (api.pod(ns, name) or {}).get("status", {}).get("phase") ==
                     "Running", 60, what=f"{name} running")
        yield state
    finally:
        api.delete(f"/api/v1/namespaces/{ns}/deployments/web")
        for pod in (api.get(f"/api/v1/namespaces/{ns}/pods") or {}).get("items") or []:
            api.delete(f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}",
                       gracePeriodSeconds=0)
        docker_cluster.remove_containers(namespace=ns)
        api.delete(f"/api/v1/namespaces/{ns}")


def test_pods_start_with_their_service_rules_in_place(app: App) -> None:
    for client in app.clients:
        code, first = exec_in(app.docker, app.ns, client, "client", "cat", "/tmp/first")
        assert code == 0 and HELLO.search(first), first
        assert f"-d {app.cluster_ip}/32" in app.nat_rules(client)


def test_cluster_ip_spreads_over_replicas_from_both_nodes(app: App) -> None:
    replicas = set(app.replicas())
    assert len(replicas) == 3
    for client in app.clients:
        hosts = app.hits(client)
        assert len(hosts) == 20
        assert set(hosts) <= replicas and len(set(hosts)) > 1, hosts


def test_unready_replica_gets_no_traffic(app: App) -> None:
    victim, victim_ip = sorted(app.replicas().items())[0]
    exec_in(app.docker, app.ns, victim, "web", "touch", "/tmp/unready")
    try:
        wait_for(lambda: victim_ip not in app.ready_endpoints(), 20, what="victim unready")
        for client in app.clients:
            wait_for(lambda: f"{victim_ip}:8080" not in app.nat_rules(client), 10,
                     what=f"victim gone from {client}'s rules")
            hosts = app.hits(client)
            assert len(hosts) == 20 and victim not in hosts and len(set(hosts)) == 2, hosts
    finally:
        exec_in(app.docker, app.ns, victim, "web", "rm", "-f", "/tmp/unready")
        wait_for(lambda: victim_ip in app.ready_endpoints(), 20, what="victim ready again")


def test_scale_to_zero_refuses_at_once_and_scaling_up_restores(app: App) -> None:
    client = app.clients[0]
    app.scale(0)
    try:
        wait_for(lambda: not app.ready_endpoints(), 30, what="no ready endpoints")
        wait_for(lambda: f"-d {app.cluster_ip}/32" not in app.nat_rules(client), 10,
                 what="the service's rules removed")
        code, took = app.curl(client, f"http://{app.cluster_ip}/", "-o", "/dev/null",
                              "-w", "%{time_total}")
        assert code == 7 and float(took) < 0.5, (code, took)  # refused, not timed out
    finally:
        app.scale(3)
    wait_for(lambda: len(app.ready_endpoints()) == 3, 60, what="3 ready endpoints again")
    for client in app.clients:
        wait_for(lambda: HELLO.search(app.curl(client, f"http://{app.cluster_ip}/")[1]), 10,
                 what=f"{client} served again")


def _reject_packets(pid: int) -> int:
    listing = subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", "-w", "-L",
                              "K8PY-SERVICE-REJECT", "-v", "-x", "-n"],
                             capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    return sum(int(row[0]) for row in rows)


def _eth0_tx_packets(pid: int) -> int:
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "eth0":
            return int(counters.split()[9])
    raise AssertionError("the pod has no eth0")


def test_unallocated_cluster_ip_is_refused_inside_the_pod(app: App) -> None:
    services = app.api.get("/api/v1/services") or {}
    assert UNALLOCATED not in {s["spec"].get("clusterIP") for s in services.get("items") or []}
    client = app.clients[1]
    pid = sandbox_pid(app.docker, app.ns, client)
    packets, sent = _reject_packets(pid), _eth0_tx_packets(pid)
    code, took = app.curl(client, f"http://{UNALLOCATED}:80/", "-o", "/dev/null",
                          "-w", "%{time_total}")
    assert code == 7 and float(took) < 0.5, (code, took)
    assert _reject_packets(pid) > packets
    assert _eth0_tx_packets(pid) == sent  # the SYN never reached the wire


def test_node_port_answers_on_localhost_and_every_node_ip(app: App) -> None:
    svc = app.service("web-np", type="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    for ip in ["127.0.0.1", *(n.ip for n in app.cluster.nodes)]:
        url = f"http://{ip}:{node_port}/"
        wait_for(lambda: _get(url), 10, what=f"NodePort on {ip}")
        hosts = [_get(url) for _ in range(6)]
        assert all(hosts) and set(hosts) <= set(app.replicas()), hosts


def _get(url: str) -> str | None:
    try:
        found = HELLO.search(httpx.get(url, timeout=3).text)
    except httpx.HTTPError:
        return None
    return found.group(1) if found else None


def test_load_balancer_gets_an_ingress_ip_that_answers_from_the_host(app: App) -> None:
    app.service("web-lb", type="LoadBalancer")
    path = f"/api/v1/namespaces/{app.ns}/services/web-lb"
    ingress = wait_for(lambda: ((app.api.get(path) or {}).get("status") or {})
                       .get("loadBalancer", {}).get("ingress"), 15, what="ingress IP")
    assert len(ingress) == 1 and ingress[0]["ipMode"] == "VIP"
    ip = ingress[0]["ip"]
    prefix = app.cluster.lb_range.rsplit(".", 1)[0]
    assert ip.startswith(prefix + ".")
    wait_for(lambda: _get(f"http://{ip}/"), 10, what=f"LoadBalancer {ip}")
    assert all(_get(f"http://{ip}/") for _ in range(6))
    app.api.delete(path)
    wait_for(lambda: _refused(f"http://{ip}/"), 10, what="listener closed")


def _refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=3)
    except httpx.ConnectError:
        return True
    return False


def test_restarting_kube_proxy_keeps_established_connections(app: App) -> None:
    node, client = app.cluster.nodes[0], app.clients[0]
    container = pod_container(app.docker, app.ns, client, "client")
    slow = subprocess.Popen(["docker", "exec", "-i", container.id, "python3", "-u", "-c",
                             SLOW_REQUEST, app.cluster_ip, "80"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert slow.stdout is not None and slow.stdin is not None
        assert slow.stdout.readline().strip() == "connected"
        assert node.proxy.stop() == 0  # SIGTERM: a clean exit that leaves the rules
        assert HELLO.search(app.curl(client, f"http://{app.cluster_ip}/")[1])
        slow.stdin.write("while-stopped\n")
        slow.stdin.flush()
        node.proxy.start()
        slow.stdin.write("after-restart\nend\n")
        slow.stdin.flush()
        out, _ = slow.communicate(timeout=15)
        assert HELLO.search(out), out
    finally:
        if slow.poll() is None:
            slow.kill()
        if node.proxy.proc is None or node.proxy.proc.poll() is not None:
            node.proxy.start()  # leave the node with its proxy for the tests after this one
    metrics = node.proxy.metrics()
    assert "k8py_kubeproxy_sync_proxy_rules_duration_seconds_count" in metrics
    assert HELLO.search(app.curl(client, f"http://{app.cluster_ip}/")[1])
