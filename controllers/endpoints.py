"""The Endpoints controller: core/v1 Endpoints named after each selecting Service.

As ``pkg/controller/endpoint``: every pod the Service's selector matches that
has an IP and has not finished contributes one address per service port it
can serve (a named ``targetPort`` resolves through the pod's containerPorts),
ready pods under ``addresses`` and the rest under ``notReadyAddresses``
(``publishNotReadyAddresses`` puts them all under ``addresses``; terminating
pods are dropped unless it is set).  Addresses are then packed the way
``endpoints.RepackSubsets`` does: ports offered by the same set of addresses
share a subset.  Services without a selector are someone else's business;
a deleted Service takes its Endpoints with it.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import deepcopy_json, labels, pod_is_ready, split_key
from machinery.podendpoints import (
    HEADLESS_LABEL,
    create_endpoint_object,
    find_port,
    is_headless,
    pod_in_endpoints,
    pod_ip,
    pod_reference,
    publishes_endpoints,
    selected_pods,
    watch_service_pods,
)
from machinery.reconciler import Requeue

__all__ = ["EndpointsController", "endpoint_subsets", "HEADLESS_LABEL"]

Obj = dict[str, Any]

_NO_PORT: tuple[Any, ...] = ()  # the sentinel for addresses of a headless Service without ports


def _address(pod: Obj, service: Obj, ip: str) -> Obj:
    return {"ip": ip, **pod_reference(pod, service)}


def _endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _port_key(port: Obj) -> tuple[Any, ...]:
    return (port.get("name") or "", port["port"], port["protocol"], port.get("appProtocol") or "")


def endpoint_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The packed, sorted ``subsets`` for ``service`` over the pods it selects."""
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    # address identity -> (address, ready); port key -> (port, address identities)
    addresses: dict[tuple[str, str], tuple[Obj, bool]] = {}
    offered: dict[tuple[Any, ...], tuple[Obj | None, set[tuple[str, str]]]] = {}
    for pod in pods:
        if not pod_in_endpoints(pod, include_terminating=tolerate):
            continue
        ip = pod_ip(pod)
        assert ip is not None  # pod_in_endpoints checked it
        ident = (ip, str((pod.get("metadata") or {}).get("uid") or ""))
        ports: list[tuple[tuple[Any, ...], Obj | None]] = []
        if not service_ports:
            if is_headless(service):
                ports.append((_NO_PORT, None))
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                entry = _endpoint_port(service_port, number)
                ports.append((_port_key(entry), entry))
        if not ports:
            continue
        addresses[ident] = (_address(pod, service, ip), tolerate or pod_is_ready(pod))
        for key, port in ports:
            offered.setdefault(key, (port, set()))[1].add(ident)
    # ports offered by the same set of addresses share a subset
    grouped: dict[frozenset[tuple[str, str]], list[Obj | None]] = {}
    for key in sorted(offered):
        offered_port, offering = offered[key]
        grouped.setdefault(frozenset(offering), []).append(offered_port)
    subsets = []
    for idents, ports_of in grouped.items():
        ordered = sorted(idents)
        subset: Obj = {}
        ready = [addresses[i][0] for i in ordered if addresses[i][1]]
        not_ready = [addresses[i][0] for i in ordered if not addresses[i][1]]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real_ports = [p for p in ports_of if p is not None]
        if real_ports:
            subset["ports"] = real_ports
        subsets.append(subset)
    subsets.sort(key=lambda s: [a["ip"] for a in s.get("addresses", []) +
                                s.get("notReadyAddresses", [])] + [str(s.get("ports"))])
    return subsets


def endpoints_labels(service: Obj) -> dict[str, str]:
    out = dict(labels(service))
    if is_headless(service):
        out[HEADLESS_LABEL] = ""
    else:
        out.pop(HEADLESS_LABEL, None)
    return out


class EndpointsController(QueueController):
    """Keyed by the Service's ``namespace/name`` (which is also the Endpoints' key)."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.services = ctx.informers.informer("services")
        self.pods = ctx.informers.informer("pods")
        self.endpoints = ctx.informers.informer("endpoints")
        super().__init__("endpoint", [self.services, self.pods, self.endpoints], clock=ctx.clock)
        watch_service_pods(self.services, self.pods, self.queue.add)
        self.endpoints.add_handler(on_delete=self._endpoints_deleted)

    def _endpoints_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.queue.add(meta_key(object_of(obj)))

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        if service is None:
            if self.endpoints.get(key) is not None:
                try:
                    await self.client.delete("endpoints", name, namespace)
                except errors.NotFound:
                    pass
            return None
        if not publishes_endpoints(service):
            return None
        subsets = endpoint_subsets(service, selected_pods(self.pods, service))
        wanted_labels = endpoints_labels(service)
        current = self.endpoints.get(key)
        if current is None:
            body = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": namespace, "labels": wanted_labels},
                    "subsets": subsets}
            await create_endpoint_object(self.client, "endpoints", body)
            return None
        if (current.get("subsets") or []) == subsets and labels(current) == wanted_labels:
            return None
        new = deepcopy_json(current)
        new["subsets"] = subsets
        new["metadata"]["labels"] = wanted_labels
        await self.client.update("endpoints", new)
        return None
