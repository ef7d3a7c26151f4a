"""Tables for service networking: services, endpoints, endpoint slices,
ingresses and ingress classes.

EXTERNAL-IP is the interesting cell: ``<none>`` for cluster-internal types,
``<pending>`` for a LoadBalancer whose address kube-proxy has not published
yet, the load-balancer addresses plus any ``externalIPs`` once it has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.columns import Cell, Column, Printer, age_column, field_doc, name_column
from apiserver.tables.format import (
    NONE,
    age_of,
    dig,
    format_labels,
    join_host_port,
    limited_list,
    name_of,
)

__all__ = ["PRINTERS", "service_external_ip", "service_ports"]

_SPEC = "io.k8s.api.core.v1.ServiceSpec"
_SLICE = "io.k8s.api.discovery.v1.EndpointSlice"


def _load_balancer_addresses(status: dict[str, Any] | None) -> list[str]:
    found = set()
    for ingress in dig(status, "loadBalancer", "ingress", default=[]):
        address = ingress.get("ip") or ingress.get("hostname")
        if address:
            found.add(str(address))
    return sorted(found)


def service_external_ip(service: dict[str, Any]) -> str:
    kind = dig(service, "spec", "type") or "ClusterIP"
    external = [str(ip) for ip in dig(service, "spec", "externalIPs", default=[])]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        addresses = _load_balancer_addresses(service.get("status")) + external
        return ",".join(addresses) or "<pending>"
    if kind == "ExternalName":
        return str(dig(service, "spec", "externalName", default=""))
    return "<unknown>"


def service_ports(service: dict[str, Any]) -> str:
    """``80/TCP`` or ``80:30080/TCP`` per port, ``<none>`` for a port-less service."""
    pieces = []
    for port in dig(service, "spec", "ports", default=[]):
        protocol = port.get("protocol") or "TCP"
        node_port = port.get("nodePort")
        middle = f":{node_port}" if node_port else ""
        pieces.append(f"{port.get('port', 0)}{middle}/{protocol}")
    return ",".join(pieces) or NONE


def _service(obj: dict[str, Any], now: datetime) -> list[Cell]:
    cluster_ip = dig(obj, "spec", "clusterIPs", 0) or dig(obj, "spec", "clusterIP") or NONE
    return [
        name_of(obj),
        str(dig(obj, "spec", "type") or "ClusterIP"),
        str(cluster_ip),
        service_external_ip(obj),
        service_ports(obj),
        age_of(obj, now),
        format_labels(dig(obj, "spec", "selector")),
    ]


def _endpoint_addresses(endpoints: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for subset in endpoints.get("subsets") or ():
        ips = [str(a.get("ip", "")) for a in subset.get("addresses") or ()]
        ports = subset.get("ports") or ()
        if not ports:  # a headless service may publish bare addresses
            found.extend(ips)
        for port in ports:
            found.extend(join_host_port(ip, port.get("port", 0)) for ip in ips)
    return found


def _endpoints(obj: dict[str, Any], now: datetime) -> list[Cell]:
    if not obj.get("subsets"):
        return [name_of(obj), NONE, age_of(obj, now)]
    return [name_of(obj), limited_list(_endpoint_addresses(obj), empty=""), age_of(obj, now)]


def _slice_port(port: dict[str, Any]) -> str:
    if port.get("port") is not None:
        return str(port["port"])
    return str(port.get("name") or "*")


def _endpoint_slice(obj: dict[str, Any], now: datetime) -> list[Cell]:
    addresses = [str(a) for e in obj.get("endpoints") or () for a in e.get("addresses") or ()]
    return [
        name_of(obj),
        str(obj.get("addressType") or ""),
        limited_list(_slice_port(p) for p in obj.get("ports") or ()),
        limited_list(addresses),
        age_of(obj, now),
    ]


def _ingress_hosts(rules: list[dict[str, Any]]) -> str:
    """Up to three hosts; "+ N more..." counts the remaining rules, not hosts."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
            break
        if rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    shown = ",".join(hosts)
    return f"{shown} + {len(rules) - 3} more..." if more else shown


def _ingress(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        dig(obj, "spec", "ingressClassName") or NONE,
        _ingress_hosts(dig(obj, "spec", "rules", default=[])),
        ",".join(_load_balancer_addresses(obj.get("status"))),
        "80, 443" if dig(obj, "spec", "tls") else "80",
        age_of(obj, now),
    ]


def _ingress_class(obj: dict[str, Any], now: datetime) -> list[Cell]:
    parameters = dig(obj, "spec", "parameters")
    shown = NONE
    if parameters:
        kind = str(parameters.get("kind", ""))
        if parameters.get("apiGroup"):
            kind = f"{kind}.{parameters['apiGroup']}"
        shown = f"{kind}/{parameters.get('name', '')}"
    return [name_of(obj), str(dig(obj, "spec", "controller", default="")), shown, age_of(obj, now)]


PRINTERS = {
    ("", "services"): Printer(
        (
            name_column(),
            Column("Type", description=field_doc(_SPEC, "type")),
            Column("Cluster-IP", description=field_doc(_SPEC, "clusterIP")),
            Column("External-IP", description=field_doc(_SPEC, "externalIPs")),
            Column("Port(s)", description=field_doc(_SPEC, "ports")),
            age_column(),
            Column("Selector", description=field_doc(_SPEC, "selector"), priority=1),
        ),
        _service,
    ),
    ("", "endpoints"): Printer(
        (
            name_column(),
            Column("Endpoints", description=field_doc("io.k8s.api.core.v1.Endpoints", "subsets")),
            age_column(),
        ),
        _endpoints,
    ),
    ("discovery.k8s.io", "endpointslices"): Printer(
        (
            name_column(),
            Column("AddressType", description=field_doc(_SLICE, "addressType")),
            Column("Ports", description=field_doc(_SLICE, "ports")),
            Column("Endpoints", description=field_doc(_SLICE, "endpoints")),
            age_column(),
        ),
        _endpoint_slice,
    ),
    ("networking.k8s.io", "ingresses"): Printer(
        (
            name_column(),
            Column(
                "Class",
                description="The name of the IngressClass resource that should be used for additional configuration",
            ),
            Column("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
            Column("Address", description="Address is a list containing ingress points for the load-balancer"),
            Column("Ports", description="Ports of TLS configurations that open"),
            age_column(),
        ),
        _ingress,
    ),
    ("networking.k8s.io", "ingressclasses"): Printer(
        (
            name_column(),
            Column("Controller", description="Controller that is responsible for handling this class"),
            Column("Parameters", description="A reference to a resource with additional parameters"),
            age_column(),
        ),
        _ingress_class,
    ),
}
