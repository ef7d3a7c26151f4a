"""Ingress, IngressClass, Service and EndpointSlice objects for the ingress tests."""

from __future__ import annotations

from typing import Any

from ingress.routes import CONTROLLER, DEFAULT_CLASS_ANNOTATION

Obj = dict[str, Any]


def ingress_class(name: str = "k8py", *, default: bool = True,
                  controller: str = CONTROLLER) -> Obj:
    annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"controller": controller}}


def backend(service: str, port: int | str) -> Obj:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def path(value: str, service: str, port: int | str = 80, kind: str = "Prefix") -> Obj:
    return {"path": value, "pathType": kind, "backend": backend(service, port)}


def ingress(name: str, rules: list[Obj], *, namespace: str = "default",
            class_name: str | None = None, default_backend: Obj | None = None,
            created: str = "2024-01-01T00:00:00Z") -> Obj:
    spec: Obj = {"rules": rules}
    if class_name:
        spec["ingressClassName"] = class_name
    if default_backend:
        spec["defaultBackend"] = default_backend
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": spec}


def rule(host: str | None, *paths: Obj) -> Obj:
    found: Obj = {"http": {"paths": list(paths)}}
    if host:
        found["host"] = host
    return found


def service(name: str, *ports: tuple[str, int], namespace: str = "default",
            **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": "10.96.0.50", "ports": [
                {"name": n, "port": p, "protocol": "TCP", "targetPort": "http"}
                for n, p in ports], **spec}}


def endpoint_slice(service_name: str, port: int, *ips: str, port_name: str = "web",
                   unready: tuple[str, ...] = (), namespace: str = "default") -> Obj:
    endpoints = [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]
    endpoints += [{"addresses": [ip], "conditions": {"ready": False}} for ip in unready]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-x", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}
