"""Publishing the DNS server as the Service ``kube-system/kube-dns``, the Kubernetes way.

Pods reach cluster DNS at a fixed ClusterIP (the kubelet's ``--cluster-dns``,
10.96.0.10 by default) that kube-proxy DNATs to the server like any other
Service.  The server does not run in a pod, so no selector could find it:
it keeps a selector-less Service plus the Endpoints and EndpointSlice that
point at its own address, exactly as an operator would for any external
backend.  The slice carries a ``managed-by`` label of its own, so the
EndpointSlice controller leaves it alone, and the Endpoints carry
``skip-mirror``, so a mirroring controller does not copy them into a second
slice.

``ensure`` is level-triggered and idempotent: it reads the three objects and
writes only what differs, so running it every few seconds repairs a deleted
or edited object and costs three GETs otherwise.  A Service that already
holds another ClusterIP is kept (the field is immutable), with a warning:
pods configured for the fixed address will not reach it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.endpointslices import SERVICE_NAME_LABEL

__all__ = ["DnsService", "MANAGED_BY"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MANAGED_BY = "dns.k8py.io"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
          "kubernetes.io/name": "k8py-dns"}


@dataclass(frozen=True)
class DnsService:
    """The Service fronting the DNS server, and the address and port it serves on."""

    cluster_ip: str
    address: str
    port: int = 53
    namespace: str = "kube-system"
    name: str = "kube-dns"

    def _ports(self, *, target: bool) -> list[Obj]:
        ports = []
        for name, protocol in (("dns", "UDP"), ("dns-tcp", "TCP")):
            port: Obj = {"name": name, "protocol": protocol}
            if target:
                port.update(port=53, targetPort=self.port)
            else:
                port["port"] = self.port
            ports.append(port)
        return ports

    def service(self) -> Obj:
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": dict(LABELS)},
                "spec": {"type": "ClusterIP", "clusterIP": self.cluster_ip,
                         "ports": self._ports(target=True)}}

    def endpoints(self) -> Obj:
        return {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": {**LABELS, SKIP_MIRROR_LABEL: "true"}},
                "subsets": [{"addresses": [{"ip": self.address}],
                             "ports": self._ports(target=False)}]}

    def endpoint_slice(self) -> Obj:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": f"{self.name}-k8py", "namespace": self.namespace,
                             "labels": {**LABELS, SERVICE_NAME_LABEL: self.name,
                                        MANAGED_BY_LABEL: MANAGED_BY}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [self.address],
                               "conditions": {"ready": True, "serving": True,
                                              "terminating": False}}],
                "ports": self._ports(target=False)}

    async def ensure(self, client: ApiClient) -> bool:
        """Bring the three objects to their desired state; True if anything was written."""
        wrote = await self._ensure_service(client)
        for resource, body, fields in (("endpoints", self.endpoints(), ("subsets",)),
                                       ("endpointslices", self.endpoint_slice(),
                                        ("addressType", "endpoints", "ports"))):
            wrote = await self._ensure(client, resource, body, fields) or wrote
        return wrote

    async def _ensure_service(self, client: ApiClient) -> bool:
        desired = self.service()
        try:
            current = await client.get("services", self.name, self.namespace)
        except errors.NotFound:
            await client.create("services", desired, self.namespace)
            log.info("created Service %s/%s on %s", self.namespace, self.name, self.cluster_ip)
            return True
        spec = current.get("spec") or {}
        if spec.get("clusterIP") != self.cluster_ip:
            log.warning("Service %s/%s has clusterIP %s, not %s; pods told to use %s will not "
                        "reach this server", self.namespace, self.name, spec.get("clusterIP"),
                        self.cluster_ip, self.cluster_ip)
        labels = (current.get("metadata") or {}).get("labels") or {}
        ports = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
                 for p in spec.get("ports") or ()]
        if (spec.get("selector") is None and ports == desired["spec"]["ports"]
                and all(labels.get(k) == v for k, v in LABELS.items())):
            return False
        await client.patch("services", self.name, {
            "metadata": {"labels": LABELS},
            "spec": {"selector": None, "ports": desired["spec"]["ports"]}}, self.namespace)
        log.info("updated Service %s/%s", self.namespace, self.name)
        return True

    async def _ensure(self, client: ApiClient, resource: str, desired: Obj,
                      fields: tuple[str, ...]) -> bool:
        try:
            current = await client.get(resource, desired["metadata"]["name"], self.namespace)
        except errors.NotFound:
            await client.create(resource, desired, self.namespace)
            log.info("created %s %s/%s -> %s:%d", resource, self.namespace,
                     desired["metadata"]["name"], self.address, self.port)
            return True
        labels = (current.get("metadata") or {}).get("labels") or {}
        wanted_labels = desired["metadata"]["labels"]
        if (all(current.get(f) == desired[f] for f in fields)
                and all(labels.get(k) == v for k, v in wanted_labels.items())):
            return False
        updated = {**current, **{f: desired[f] for f in fields}}
        updated["metadata"] = {**current["metadata"], "labels": {**labels, **wanted_labels}}
        await client.update(resource, updated)
        log.info("updated %s %s/%s -> %s:%d", resource, self.namespace,
                 desired["metadata"]["name"], self.address, self.port)
        return True
