"""Defaults for core/v1 kinds other than Pod, and a few small kinds of other groups.

Besides ``pkg/apis/core/v1/defaults.go`` this covers what Kubernetes always
serializes (a Service's ``status.loadBalancer``, a Node's ``nodeInfo``), the
namespace strategy's ``kubernetes`` finalizer, and the Secret conversion that
folds ``stringData`` into ``data``.
"""

from __future__ import annotations

import base64
from typing import Any

from apiserver.defaults.fields import child, items, set_if_empty, set_if_none
from apiserver.defaults.podspec import default_host_path, default_pvc_spec
from apiserver.schema import definitions

__all__ = [
    "default_service",
    "default_namespace",
    "default_secret",
    "default_pvc",
    "default_pv",
    "default_node",
    "default_endpoints",
    "default_endpoint_slice",
    "default_storage_class",
    "default_ingress_class",
]


def default_service(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_empty(spec, "sessionAffinity", "None")
    if spec.get("sessionAffinity") == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec.get("sessionAffinity") == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    set_if_empty(spec, "type", "ClusterIP")
    service_type = spec.get("type")
    for port in items(spec.get("ports")):
        set_if_empty(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    external_ips = spec.get("externalIPs")
    accessible = service_type in ("NodePort", "LoadBalancer") or (
        service_type == "ClusterIP" and isinstance(external_ips, list) and bool(external_ips))
    if accessible:
        set_if_empty(spec, "externalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        set_if_none(spec, "internalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        set_if_none(spec, "allocateLoadBalancerNodePorts", True)
    status = child(obj, "status")
    load_balancer = child(status, "loadBalancer")
    if service_type == "LoadBalancer":
        for ingress in items(load_balancer.get("ingress")):
            if ingress.get("ip"):
                set_if_none(ingress, "ipMode", "VIP")


def default_namespace(obj: dict[str, Any]) -> None:
    meta = child(obj, "metadata")
    name = meta.get("name")
    if isinstance(name, str) and name:
        child(meta, "labels")["kubernetes.io/metadata.name"] = name
    spec = child(obj, "spec")
    # The create strategy adds the "kubernetes" finalizer; a namespace already being deleted
    # must not get it back once the namespace controller has removed it.
    if spec.get("finalizers") is None and not meta.get("deletionTimestamp"):
        spec["finalizers"] = ["kubernetes"]
    set_if_empty(child(obj, "status"), "phase", "Active")


def default_secret(obj: dict[str, Any]) -> None:
    set_if_empty(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = child(obj, "data")
        for key, value in string_data.items():
            text = value if isinstance(value, str) else ""
            data[key] = base64.b64encode(text.encode()).decode()


def default_pvc(obj: dict[str, Any]) -> None:
    default_pvc_spec(child(obj, "spec"))
    set_if_empty(child(obj, "status"), "phase", "Pending")


def default_pv(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain")
    set_if_none(spec, "volumeMode", "Filesystem")
    default_host_path(spec.get("hostPath"))
    set_if_empty(child(obj, "status"), "phase", "Pending")


def _required_strings(definition: str) -> list[str]:
    return [name for name in definitions().get(definition, {}).get("required", ())]


def default_node(obj: dict[str, Any]) -> None:
    child(obj, "spec")
    status = child(obj, "status")
    capacity = status.get("capacity")
    if status.get("allocatable") is None and isinstance(capacity, dict):
        status["allocatable"] = dict(capacity)
    node_info = child(status, "nodeInfo")
    for name in _required_strings("io.k8s.api.core.v1.NodeSystemInfo"):
        set_if_none(node_info, name, "")
    endpoint = child(child(status, "daemonEndpoints"), "kubeletEndpoint")
    set_if_none(endpoint, "Port", 0)


def default_endpoints(obj: dict[str, Any]) -> None:
    for subset in items(obj.get("subsets")):
        for port in items(subset.get("ports")):
            set_if_empty(port, "protocol", "TCP")


def default_endpoint_slice(obj: dict[str, Any]) -> None:
    for port in items(obj.get("ports")):
        set_if_none(port, "name", "")
        set_if_none(port, "protocol", "TCP")


def default_storage_class(obj: dict[str, Any]) -> None:
    set_if_none(obj, "reclaimPolicy", "Delete")
    set_if_none(obj, "volumeBindingMode", "Immediate")


def default_ingress_class(obj: dict[str, Any]) -> None:
    params = child(obj, "spec").get("parameters")
    if isinstance(params, dict):
        set_if_none(params, "scope", "Cluster")
