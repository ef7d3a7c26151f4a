"""The kubelet as a node: its Node and Lease objects, and surviving its own crash.

Objects are read back through the official Kubernetes Python client, whose
models validate required fields and types, so a Node or Lease it cannot
decode fails the test.
"""

from __future__ import annotations

import ipaddress
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import kubernetes.client as k8s
import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for
from tests.e2e.test_kubelet_pods import DEBIAN, HELLO, condition, phase_is, pod

pytestmark = pytest.mark.e2e


@pytest.fixture
def official(apiserver: ApiServerProcess) -> Iterator[k8s.ApiClient]:
    config = k8s.Configuration()
    config.host = apiserver.url
    with k8s.ApiClient(config) as client:
        yield client


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode())
    except OSError:
        return None


def _ready_heartbeat(client: k8s.ApiClient, node: str) -> object:
    status = k8s.CoreV1Api(client).read_node(node).status
    return next(c.last_heartbeat_time for c in status.conditions if c.type == "Ready")


def test_node_and_lease_decode_with_the_official_client(
        official: k8s.ApiClient, kubelets: dict[str, KubeletProcess]) -> None:
    kubelet = kubelets["n1"]
    node = k8s.CoreV1Api(official).read_node(kubelet.node)
    labels = node.metadata.labels
    assert labels["kubernetes.io/hostname"] == kubelet.node
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"]
    info = node.status.node_info
    assert info.kubelet_version == "v1.32.4-k8py"
    assert info.container_runtime_version.startswith("docker://")
    assert info.operating_system == "linux" and info.architecture == labels["kubernetes.io/arch"]
    assert info.machine_id and info.boot_id and info.kernel_version and info.os_image
    assert info.system_uuid
    assert node.status.capacity["pods"] == "110"
    for resource in ("cpu", "memory", "ephemeral-storage", "pods"):
        assert node.status.allocatable[resource] == node.status.capacity[resource]
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses == {"InternalIP": "127.0.0.1", "Hostname": kubelet.node}
    assert node.status.daemon_endpoints.kubelet_endpoint.port == kubelet.port
    conditions = {c.type: c for c in node.status.conditions}
    assert set(conditions) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert conditions["Ready"].status == "True" and conditions["Ready"].reason == "KubeletReady"
    assert conditions["DiskPressure"].status == "False"
    assert all(c.last_transition_time and c.last_heartbeat_time for c in conditions.values())

    leases = k8s.CoordinationV1Api(official)
    lease = leases.read_namespaced_lease(kubelet.node, "kube-node-lease")
    assert lease.spec.holder_identity == kubelet.node
    assert lease.spec.lease_duration_seconds == 40
    assert lease.metadata.owner_references[0].kind == "Node"
    assert lease.metadata.owner_references[0].uid == node.metadata.uid
    first_renewal = lease.spec.renew_time
    wait_for(lambda: leases.read_namespaced_lease(kubelet.node, "kube-node-lease")
             .spec.renew_time > first_renewal, 10, what="lease renewed")
    first_heartbeat = _ready_heartbeat(official, kubelet.node)
    wait_for(lambda: _ready_heartbeat(official, kubelet.node) > first_heartbeat, 10,
             what="node status heartbeat")


def test_restarted_kubelet_adopts_running_containers(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str, official: k8s.ApiClient) -> None:
    ns, kubelet = pod_namespace, kubelets["n2"]
    api.create_pod(ns, pod("survivor", kubelet.node, [
        {"name": "web", "image": HELLO,
         "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]))
    api.create_pod(ns, pod("doomed", kubelet.node, [
        {"name": "app", "image": DEBIAN, "command": ["sleep", "3600"]}]))
    ready = wait_for(lambda: condition(api.pod(ns, "survivor") or {}, "Ready") == "True"
                     and api.pod(ns, "survivor"), 30, what="survivor Ready")
    wait_for(lambda: (api.pod(ns, "doomed") or {}).get("status", {}).get("phase") == "Running",
             30, what="doomed Running")
    before = {c.id for c in docker_cluster.containers(namespace=ns, pod="survivor")}
    assert len(before) == 2
    ready_since = next(c["lastTransitionTime"] for c in ready["status"]["conditions"]
                       if c["type"] == "Ready")

    kubelet.kill()
    # While the kubelet is down, one pod is force-deleted: its containers become orphans.
    assert api.delete(f"/api/v1/namespaces/{ns}/pods/doomed", gracePeriodSeconds=0) == 200
    assert api.pod(ns, "doomed") is None
    kubelet.start()

    wait_for(lambda: docker_cluster.containers(namespace=ns, pod="doomed") == [], 30,
             what="orphaned containers removed")
    after = docker_cluster.containers(namespace=ns, pod="survivor")
    assert {c.id for c in after} == before
    assert all(c.status == "running" for c in after)
    survivor = api.pod(ns, "survivor")
    assert survivor is not None
    [web] = survivor["status"]["containerStatuses"]
    assert web["restartCount"] == 0 and web["ready"]
    ready_cond = next(c for c in survivor["status"]["conditions"] if c["type"] == "Ready")
    assert ready_cond["status"] == "True" and ready_cond["lastTransitionTime"] == ready_since
    # The status and the events the kubelet wrote decode with the official client too.
    decoded = k8s.CoreV1Api(official).read_namespaced_pod("survivor", ns)
    assert decoded.status.container_statuses[0].state.running.started_at is not None
    assert decoded.status.host_ips[0].ip == "127.0.0.1"
    events = k8s.CoreV1Api(official).list_namespaced_event(ns).items
    assert {"Pulled", "Created", "Started"} <= {e.reason for e in events}
    assert all(e.source.component == "kubelet" and e.source.host for e in events)


def test_pods_get_addresses_from_their_nodes_pod_cidr(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    """Each kubelet wires its sandboxes onto the cluster bridge itself (kubelet.podnetwork):
    the sandbox is on Docker's ``none`` network, its veth's node end is a port of the
    bridge, and the pod's address comes from the Node's spec.podCIDR."""
    ns = pod_namespace
    bridge = "br-" + docker_cluster.client.networks.get(docker_cluster.network).id[:12]
    for key in ("n1", "n2"):
        kubelet = kubelets[key]
        cidr = docker_cluster.node_pod_cidr(kubelet.node)
        assert cidr, "the harness hands every node a pod CIDR"
        node = api.get(f"/api/v1/nodes/{kubelet.node}") or {}
        assert node["spec"]["podCIDR"] == cidr and node["spec"]["podCIDRs"] == [cidr]
        api.create_pod(ns, pod(f"wired-{key}", kubelet.node, [{"name": "web", "image": HELLO}]))
    for key in ("n1", "n2"):
        kubelet = kubelets[key]
        running = wait_for(lambda: phase_is(api, ns, f"wired-{key}", "Running"), 30,
                           what=f"wired-{key} Running")
        ip = running["status"]["podIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(
            docker_cluster.node_pod_cidr(kubelet.node))
        assert running["status"]["podIPs"] == [{"ip": ip}]
        [sandbox] = [c for c in docker_cluster.containers(namespace=ns, pod=f"wired-{key}")
                     if c.labels.get("io.k8py.kind") == "sandbox"]
        assert sandbox.attrs["HostConfig"]["NetworkMode"] == "none"
        assert sandbox.labels["io.k8py.pod-ip"] == ip
        link = subprocess.run(["ip", "-o", "link", "show", f"veth{sandbox.id[:11]}"],
                              capture_output=True, text=True, check=True).stdout
        assert f"master {bridge}" in link and "state UP" in link
        # Reachable from the node (the bridge's gateway) and answering as itself.
        reply = wait_for(lambda: _get(f"http://{ip}:8080/"), 20, what=f"{ip} answers")
        assert f"wired-{key}" in reply


def test_a_sandbox_that_lost_its_network_is_replaced(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    """A wired sandbox without its veth (a kubelet that died before wiring it, or a link
    deleted behind the cluster's back) is stopped and a new one made, as for a dead one."""
    ns, kubelet = pod_namespace, kubelets["n1"]
    api.create_pod(ns, pod("rewired", kubelet.node, [{"name": "web", "image": HELLO}]))
    first = wait_for(lambda: phase_is(api, ns, "rewired", "Running"), 30, what="rewired Running")

    def sandboxes() -> list[Any]:
        return [c for c in docker_cluster.containers(namespace=ns, pod="rewired")
                if c.labels.get("io.k8py.kind") == "sandbox"]

    [old] = sandboxes()
    subprocess.run(["ip", "link", "del", f"veth{old.id[:11]}"], check=True)
    new = wait_for(lambda: [s for s in sandboxes() if s.id != old.id and s.status == "running"],
                   30, what="a new sandbox")
    assert new[0].labels["io.k8py.restart-count"] == "1"
    ip = wait_for(lambda: (phase_is(api, ns, "rewired", "Running") or {}).get("status", {})
                  .get("podIP") if _get(f"http://{new[0].labels['io.k8py.pod-ip']}:8080/")
                  else None, 30, what="rewired answering on its new address")
    assert ip == new[0].labels["io.k8py.pod-ip"] != first["status"]["podIP"]
    events = api.get(f"/api/v1/namespaces/{ns}/events") or {}
    assert any(e.get("reason") == "SandboxChanged" for e in events.get("items") or [])
