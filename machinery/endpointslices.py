"""Reading EndpointSlices the way their consumers must all agree on.

kube-proxy, cluster DNS and the ingress controller each turn the cached
Services and EndpointSlices into addresses.  They must find a Service's
slices the same way (the ``kubernetes.io/service-name`` label, within the
Service's namespace), read a slice port the same way (by name and protocol,
as upstream's ``EndpointSliceCache`` does) and accept the same addresses
(IPv4 only: k8py's pods and Services are single-stack), or a Service could
answer through one and not through another.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["SERVICE_NAME_LABEL", "ipv4", "slices_by_service", "slice_port", "port_endpoints"]

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def ipv4(value: object) -> str | None:
    """The canonical text of an IPv4 address; ``None`` for IPv6, empty or malformed values."""
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    return str(address) if address.version == 4 else None


def slices_by_service(slices: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    """The slices under ``(namespace, service name)``; slices of no Service are left out."""
    found: dict[tuple[str, str], list[Obj]] = {}
    for slice_ in slices:
        meta = slice_.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            found.setdefault((str(meta.get("namespace")), owner), []).append(slice_)
    return found


def slice_port(slice_: Obj, port_name: str, protocol: str) -> int | None:
    """The number the slice gives the Service port named ``port_name`` (``""`` if unnamed)."""
    for port in slice_.get("ports") or ():
        if (port.get("name") or "") == port_name and (port.get("protocol") or "TCP") == protocol \
                and port.get("port"):
            return int(port["port"])
    return None


def port_endpoints(slices: Iterable[Obj], port_name: str,
                   protocol: str) -> Iterator[tuple[int, Obj]]:
    """Every endpoint behind a Service port, with the number its slice gives that port.

    Only IPv4 slices that carry the port count, in slice order; readiness and
    addresses are left to the caller, as kube-proxy and the ingress
    controller each keep what they need of an endpoint.
    """
    for slice_ in slices:
        if slice_.get("addressType", "IPv4") != "IPv4":
            continue
        number = slice_port(slice_, port_name, protocol)
        if number is None:
            continue
        for endpoint in slice_.get("endpoints") or ():
            yield number, endpoint
