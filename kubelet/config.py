"""The kubelet's settings: command-line flags with ``K8PY_*`` environment fallbacks.

Every other kubelet module takes a ``KubeletConfig`` rather than parsed
arguments, so tests build one directly and the defaults that depend on the
machine (node IP, root folder, capacity) are resolved in one place.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from dataclasses import dataclass, field

from machinery.component import add_common_flags, flag

__all__ = ["KubeletConfig", "build_parser", "from_args", "parse_taints", "parse_labels",
           "default_node_ip"]

KUBELET_VERSION = "v1.32.4-k8py"


@dataclass
class KubeletConfig:
    node_name: str
    api_server: str | None = None
    kubeconfig: str | None = None
    docker_host: str = "unix:///var/run/docker.sock"
    network: str = "k8py"
    pod_cidr: str = "10.244.0.0/16"
    node_pod_cidr: str = ""
    cluster_name: str = "k8py"
    root_dir: str = ""
    node_ip: str = ""
    port: int = 10250
    heartbeat_period: float = 10.0
    node_status_update_frequency: float = 10.0
    sync_frequency: float = 10.0
    pod_infra_image: str = "k8py/pause:3.10"
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_rules_timeout: float = 2.0
    max_parallel_pod_starts: int = 4
    capacity_cpu: str | None = None
    capacity_memory: str | None = None
    max_pods: int = 110
    node_labels: dict[str, str] = field(default_factory=dict)
    register_with_taints: list[dict[str, str]] = field(default_factory=list)
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    health_address: str = "0.0.0.0"
    health_port: int = 10248

    def __post_init__(self) -> None:
        if not self.root_dir:
            self.root_dir = f"/var/lib/k8py/kubelet/{self.node_name}"
        if not self.node_ip:
            self.node_ip = default_node_ip()

    @property
    def version(self) -> str:
        return KUBELET_VERSION


def default_node_ip() -> str:
    """Loopback in process mode; inside a node container, the address others reach it on."""
    if not os.path.exists("/.dockerenv"):
        return "127.0.0.1"
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = str(info[4][0])
            if not ipaddress.ip_address(address).is_loopback:
                return address
    except OSError:
        pass
    return "127.0.0.1"


def parse_labels(text: str) -> dict[str, str]:
    """``a=b,c=d`` as kubelet's --node-labels takes it."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid label {item!r}: expected key=value")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[dict[str, str]]:
    """``key=value:Effect,key:Effect`` as kubelet's --register-with-taints takes it."""
    taints: list[dict[str, str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"invalid taint {item!r}: expected key[=value]:Effect")
        key, _, value = head.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubelet", description="k8py node agent: registers a Node and runs its pods on Docker")
    flag(parser, "--node-name", env="K8PY_NODE_NAME", default=socket.gethostname(),
         help="name of the Node object")
    flag(parser, "--api-server", env="K8PY_API_SERVER", help="API server URL")
    flag(parser, "--kubeconfig", env="KUBECONFIG", help="kubeconfig to reach the API server")
    flag(parser, "--docker-host", env="DOCKER_HOST", default="unix:///var/run/docker.sock",
         help="Docker engine address")
    flag(parser, "--network", env="K8PY_NETWORK", default="k8py",
         help="the cluster's Docker bridge network (created when missing)")
    flag(parser, "--pod-cidr", env="K8PY_POD_CIDR", default="10.244.0.0/16",
         help="subnet of the cluster network when the kubelet creates it")
    flag(parser, "--node-pod-cidr", env="K8PY_NODE_POD_CIDR", default="",
         help="this node's pod addresses (a part of --pod-cidr outside Docker's IP range on "
              "the network): the kubelet then wires each sandbox onto the bridge itself and "
              "publishes the range as the Node's spec.podCIDR; empty: Docker's IPAM assigns them")
    flag(parser, "--cluster-name", env="K8PY_CLUSTER_NAME", default="k8py",
         help="stamped on every Docker object as the io.k8py.cluster label")
    flag(parser, "--root-dir", env="K8PY_ROOT_DIR", default="",
         help="host folder for pod volumes (default /var/lib/k8py/kubelet/<node-name>)")
    flag(parser, "--node-ip", env="K8PY_NODE_IP", default="",
         help="address the API server reaches this kubelet on")
    flag(parser, "--port", env="K8PY_KUBELET_PORT", default=10250, type=int,
         help="port of the kubelet server (logs, exec, port-forward)")
    flag(parser, "--heartbeat-period", env="K8PY_HEARTBEAT_PERIOD", default=10.0, type=float,
         help="seconds between Lease renewals")
    flag(parser, "--node-status-update-frequency", env="K8PY_NODE_STATUS_UPDATE_FREQUENCY",
         default=10.0, type=float, help="seconds between Node status updates")
    flag(parser, "--sync-frequency", env="K8PY_SYNC_FREQUENCY", default=10.0, type=float,
         help="seconds between periodic re-syncs of each pod")
    flag(parser, "--pod-infra-image", env="K8PY_POD_INFRA_IMAGE", default="k8py/pause:3.10",
         help="image of the pod sandbox container")
    flag(parser, "--cluster-dns", env="K8PY_CLUSTER_DNS", default="",
         help="comma-separated DNS server IPs for ClusterFirst pods")
    flag(parser, "--cluster-domain", env="K8PY_CLUSTER_DOMAIN", default="cluster.local",
         help="cluster DNS domain")
    flag(parser, "--service-cluster-ip-range", env="K8PY_SERVICE_CLUSTER_IP_RANGE",
         default="10.96.0.0/12", help="service CIDR rejected inside pods unless DNATed")
    flag(parser, "--service-rules-timeout", env="K8PY_SERVICE_RULES_TIMEOUT", default=2.0,
         type=float, help="seconds to wait after a sandbox starts for kube-proxy's service "
                          "rules in it before starting containers, while this node's "
                          "kube-proxy holds its presence Lease (0: never wait)")
    flag(parser, "--max-parallel-pod-starts", env="K8PY_MAX_PARALLEL_POD_STARTS", default=4,
         type=int, help="pods that may create their sandbox and containers at the same time; "
                        "the rest queue in arrival order (at least 1).  Docker starts no more "
                        "containers per second when asked for more at once, only each slower")
    flag(parser, "--capacity-cpu", env="K8PY_CAPACITY_CPU", help="override the node's cpu capacity")
    flag(parser, "--capacity-memory", env="K8PY_CAPACITY_MEMORY",
         help="override the node's memory capacity (a quantity)")
    flag(parser, "--max-pods", env="K8PY_MAX_PODS", default=110, type=int,
         help="pods capacity of the node")
    flag(parser, "--node-labels", env="K8PY_NODE_LABELS", default="",
         help="extra node labels, key=value,...")
    flag(parser, "--register-with-taints", env="K8PY_REGISTER_WITH_TAINTS", default="",
         help="taints to register the node with, key=value:Effect,...")
    flag(parser, "--container-restart-backoff", env="K8PY_CONTAINER_RESTART_BACKOFF",
         default=10.0, type=float, help="first crash-loop back-off in seconds (doubles)")
    flag(parser, "--container-restart-backoff-max", env="K8PY_CONTAINER_RESTART_BACKOFF_MAX",
         default=300.0, type=float, help="longest crash-loop back-off in seconds")
    add_common_flags(parser, health_port=10248)
    return parser


def from_args(ns: argparse.Namespace) -> KubeletConfig:
    if not ns.api_server and not ns.kubeconfig:
        raise ValueError("one of --api-server or --kubeconfig is required")
    return KubeletConfig(
        node_name=ns.node_name, api_server=ns.api_server, kubeconfig=ns.kubeconfig,
        docker_host=ns.docker_host, network=ns.network, pod_cidr=ns.pod_cidr,
        node_pod_cidr=ns.node_pod_cidr,
        cluster_name=ns.cluster_name, root_dir=ns.root_dir, node_ip=ns.node_ip, port=ns.port,
        heartbeat_period=ns.heartbeat_period,
        node_status_update_frequency=ns.node_status_update_frequency,
        sync_frequency=ns.sync_frequency, pod_infra_image=ns.pod_infra_image,
        cluster_dns=[ip.strip() for ip in ns.cluster_dns.split(",") if ip.strip()],
        cluster_domain=ns.cluster_domain, service_cluster_ip_range=ns.service_cluster_ip_range,
        service_rules_timeout=ns.service_rules_timeout,
        max_parallel_pod_starts=max(1, ns.max_parallel_pod_starts),
        capacity_cpu=ns.capacity_cpu, capacity_memory=ns.capacity_memory, max_pods=ns.max_pods,
        node_labels=parse_labels(ns.node_labels),
        register_with_taints=parse_taints(ns.register_with_taints),
        backoff_initial=ns.container_restart_backoff,
        backoff_max=ns.container_restart_backoff_max,
        health_address=ns.health_address, health_port=ns.health_port)
