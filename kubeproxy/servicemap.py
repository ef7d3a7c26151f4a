"""Services and EndpointSlices reduced to what a proxy acts on: one entry per service port.

Both halves of kube-proxy -- the NAT rules inside pods and the userspace
NodePort/LoadBalancer listeners -- must agree on which backends a service
port has, so the choice is made once, here, as upstream's ``ServicePortName``
+ endpoints map does:

* headless and ExternalName Services get no entry (DNS answers for them);
* a service port finds its backends through the slices labelled
  ``kubernetes.io/service-name``, matching the slice port of the same name and
  protocol -- the EndpointSlice controller has already resolved a named
  ``targetPort`` to a number per pod, so the slice port carries it;
* only ready endpoints serve.  Upstream falls back to endpoints still
  serving while terminating when none is ready (KEP-1669); k8py does not,
  because a pod's Ready condition can outlive its sandbox by a status update,
  and a DNAT to a vanished pod IP hangs until timeout where "no endpoints"
  is refused at once by the kubelet's REJECT chain;
* ``internalTrafficPolicy: Local`` narrows cluster traffic to endpoints on
  this node, ``externalTrafficPolicy: Local`` does the same for NodePort and
  LoadBalancer traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from machinery.endpointslices import SERVICE_NAME_LABEL, ipv4, port_endpoints, slices_by_service

__all__ = ["Backend", "ServicePort", "service_ports", "SERVICE_NAME_LABEL",
           "DEFAULT_AFFINITY_TIMEOUT"]

Obj = dict[str, Any]
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True, order=True)
class Backend:
    """One endpoint address of a service port."""

    ip: str
    port: int
    node: str = ""

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """Everything the proxy needs about one port of one Service."""

    namespace: str
    name: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int | None = None
    ingress_ips: tuple[str, ...] = ()
    affinity_timeout: int | None = None
    cluster_backends: tuple[Backend, ...] = ()
    external_backends: tuple[Backend, ...] = ()
    external_local: bool = False

    @property
    def key(self) -> str:
        """``namespace/name:port`` as upstream names a ServicePortName (port name may be empty)."""
        return f"{self.namespace}/{self.name}:{self.port_name}"


def _cluster_ip(spec: Obj) -> str | None:
    for candidate in [spec.get("clusterIP"), *(spec.get("clusterIPs") or ())]:
        if candidate and candidate != "None" and (ip := ipv4(candidate)):
            return ip
    return None


@dataclass(frozen=True)
class _Candidate:
    backend: Backend
    ready: bool


def _candidates(slices: Iterable[Obj], port_name: str, protocol: str) -> list[_Candidate]:
    """Every IPv4 endpoint of the slices that serves this port, once per address."""
    seen: dict[tuple[str, int], _Candidate] = {}
    for number, endpoint in port_endpoints(slices, port_name, protocol):
        addresses = endpoint.get("addresses") or ()
        ip = ipv4(addresses[0]) if addresses else None
        if ip is None or (ip, number) in seen:
            continue
        conditions = endpoint.get("conditions") or {}
        seen[(ip, number)] = _Candidate(
            Backend(ip, number, str(endpoint.get("nodeName") or "")),
            conditions.get("ready") is not False)  # unset means ready
    return sorted(seen.values(), key=lambda c: c.backend)


def _usable(candidates: list[_Candidate], node: str, local_only: bool) -> tuple[Backend, ...]:
    return tuple(c.backend for c in candidates
                 if c.ready and (not local_only or c.backend.node == node))


def _affinity(spec: Obj) -> int | None:
    if spec.get("sessionAffinity") != "ClientIP":
        return None
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    timeout = config.get("timeoutSeconds")
    return int(timeout) if isinstance(timeout, int) and timeout > 0 else DEFAULT_AFFINITY_TIMEOUT


def _ingress_ips(service: Obj, spec: Obj) -> tuple[str, ...]:
    if spec.get("type") != "LoadBalancer":
        return ()
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    return tuple(sorted({ip for entry in ingress if (ip := ipv4(entry.get("ip")))}))


def service_ports(services: Iterable[Obj], slices: Iterable[Obj], node: str) -> list[ServicePort]:
    """The proxy's view of the cluster for ``node``, sorted by service port key."""
    by_service = slices_by_service(slices)
    out: list[ServicePort] = []
    for service in services:
        meta = service.get("metadata") or {}
        spec = service.get("spec") or {}
        cluster_ip = _cluster_ip(spec)
        if spec.get("type") == "ExternalName" or cluster_ip is None:
            continue
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        own_slices = by_service.get((namespace, name), [])
        internal_local = spec.get("internalTrafficPolicy") == "Local"
        external_local = spec.get("externalTrafficPolicy") == "Local"
        for port in spec.get("ports") or ():
            port_name = str(port.get("name") or "")
            protocol = str(port.get("protocol") or "TCP")
            candidates = _candidates(own_slices, port_name, protocol)
            out.append(ServicePort(
                namespace=namespace, name=name, port_name=port_name, protocol=protocol,
                cluster_ip=cluster_ip, port=int(port["port"]),
                node_port=int(port["nodePort"]) if port.get("nodePort") else None,
                ingress_ips=_ingress_ips(service, spec), affinity_timeout=_affinity(spec),
                cluster_backends=_usable(candidates, node, internal_local),
                external_backends=_usable(candidates, node, external_local),
                external_local=external_local))
    out.sort(key=lambda p: (p.namespace, p.name, p.port_name, p.protocol))
    return out
