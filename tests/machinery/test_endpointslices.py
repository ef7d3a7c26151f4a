"""The EndpointSlice reading kube-proxy, DNS and the ingress controller share."""

from __future__ import annotations

from typing import Any

from machinery.endpointslices import port_endpoints


def _slice(address_type: str, ports: list[dict[str, Any]], *ips: str) -> dict[str, Any]:
    return {"addressType": address_type, "ports": ports,
            "endpoints": [{"addresses": [ip]} for ip in ips]}


def test_port_endpoints_keeps_ipv4_slices_with_the_port_in_order() -> None:
    http = [{"name": "http", "protocol": "TCP", "port": 8080}]
    slices = [
        _slice("IPv4", http, "10.0.0.1", "10.0.0.2"),
        _slice("IPv6", http, "fd00::1"),
        _slice("IPv4", [{"name": "metrics", "port": 9090}], "10.0.0.3"),
        {"ports": [{"name": "http", "port": 8081}], "endpoints": [{"addresses": ["10.0.0.4"]}]},
    ]
    found = [(number, ep["addresses"][0]) for number, ep in port_endpoints(slices, "http", "TCP")]
    assert found == [(8080, "10.0.0.1"), (8080, "10.0.0.2"), (8081, "10.0.0.4")]
    assert list(port_endpoints(slices, "http", "UDP")) == []
