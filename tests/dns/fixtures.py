"""Cluster objects for the DNS tests, shaped as the API server returns them."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def service(name: str, namespace: str = "default", *, cluster_ip: str | None = "10.96.0.20",
            ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"ports": ports if ports is not None else
                 [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], **spec}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
        body["clusterIPs"] = [cluster_ip]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


def endpoint(ip: str, *, hostname: str | None = None, ready: bool = True) -> Obj:
    found: Obj = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready,
                                                    "terminating": False}}
    if hostname:
        found["hostname"] = hostname
    return found


def endpoint_slice(service_name: str, endpoints: list[Obj], namespace: str = "default", *,
                   ports: list[Obj] | None = None, name: str | None = None) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name or f"{service_name}-abc", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": ports if ports is not None else
            [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def pod(name: str, ip: str | None, namespace: str = "default", **spec: Any) -> Obj:
    status: Obj = {"phase": "Running"}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "x"}], **spec}, "status": status}
