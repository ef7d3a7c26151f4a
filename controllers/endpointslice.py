"""The EndpointSlice controller: discovery.k8s.io/v1 slices for each selecting Service.

As ``pkg/controller/endpointslice``: every pod the selector matches that has
an IP of the slice's family and has not finished becomes an endpoint whose
conditions say whether it is ``ready`` (serving and not terminating, or
``publishNotReadyAddresses``), ``serving`` (Ready) and ``terminating``.
Endpoints that serve the same ports share slices of at most 100 endpoints;
a Service with no endpoints keeps one empty placeholder slice.  Slices carry
``kubernetes.io/service-name``, the controller's ``managed-by`` label and a
controlling ownerReference, so the garbage collector removes them with
their Service.

Slice names are ``<service>-<hash>`` of the Service uid, address type, port
set and chunk index rather than server-generated: a reconcile that runs
before the cache shows its own earlier create then hits AlreadyExists instead
of creating a duplicate slice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from controllers.base import QueueController, ensure_index, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.endpointslices import SERVICE_NAME_LABEL
from machinery.informer import DeletedFinalStateUnknown
from machinery.meta import (
    deepcopy_json,
    is_being_deleted,
    labels,
    owner_reference,
    pod_is_ready,
    split_key,
)
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

__all__ = [
    "EndpointSliceController",
    "desired_slices",
    "SERVICE_NAME_LABEL",
    "MANAGED_BY_LABEL",
    "CONTROLLER_NAME",
    "MAX_ENDPOINTS_PER_SLICE",
]

Obj = dict[str, Any]

MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "endpointslice-service"
_FAMILIES = {"IPv4": 4, "IPv6": 6}


def _service_index(obj: Obj) -> list[str]:
    meta = obj.get("metadata") or {}
    own = meta.get("labels") or {}
    if own.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not own.get(SERVICE_NAME_LABEL):
        return []
    return [f"{meta.get('namespace')}/{own[SERVICE_NAME_LABEL]}"]


def _slice_ports(service: Obj, pod: Obj) -> list[Obj]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "port": number,
                     "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _endpoint(service: Obj, pod: Obj, ip: str) -> Obj:
    serving = pod_is_ready(pod)
    terminating = is_being_deleted(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    return {
        "addresses": [ip],
        "conditions": {"ready": publish or (serving and not terminating), "serving": serving,
                       "terminating": terminating},
        **pod_reference(pod, service),
    }


def _slice_name(service: Obj, *parts: object) -> str:
    meta = service["metadata"]
    digest = hashlib.sha256("/".join([str(meta.get("uid")), *map(str, parts)]).encode())
    suffix = digest.hexdigest()[:10]
    return f"{meta['name'][:63 - len(suffix) - 1]}-{suffix}"


def _slice_labels(service: Obj) -> dict[str, str]:
    out = {k: v for k, v in labels(service).items()
           if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)}
    out[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    out[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if is_headless(service):
        out[HEADLESS_LABEL] = ""
    return out


def _address_types(service: Obj) -> list[str]:
    families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    return [f for f in families if f in _FAMILIES]


def desired_slices(service: Obj, pods: list[Obj]) -> dict[str, Obj]:
    """Every slice the Service should have, by name."""
    meta = service["metadata"]
    owner = owner_reference({"apiVersion": "v1", "kind": "Service", "metadata": meta})
    out: dict[str, Obj] = {}
    for address_type in _address_types(service):
        groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
        for pod in pods:
            ip = pod_ip(pod, _FAMILIES[address_type])
            if ip is None or not pod_in_endpoints(pod, include_terminating=True):
                continue
            ports = _slice_ports(service, pod)
            key = repr(sorted((p["name"], p["port"], p["protocol"]) for p in ports))
            groups.setdefault(key, (ports, []))[1].append(_endpoint(service, pod, ip))
        if not groups:
            groups["placeholder"] = ([], [])
        for key in sorted(groups):
            ports, endpoints = groups[key]
            endpoints.sort(key=lambda e: (e["addresses"][0], e["targetRef"]["name"]))
            chunks = [endpoints[i:i + MAX_ENDPOINTS_PER_SLICE]
                      for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE)] or [[]]
            for index, chunk in enumerate(chunks):
                name = _slice_name(service, address_type, key, index)
                out[name] = {
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": name, "namespace": meta["namespace"],
                                 "labels": _slice_labels(service), "ownerReferences": [owner]},
                    "addressType": address_type, "endpoints": chunk,
                    "ports": sorted(ports, key=lambda p: (p["name"], p["port"], p["protocol"])),
                }
    return out


def _same(current: Obj, wanted: Obj) -> bool:
    cmeta, wmeta = current.get("metadata") or {}, wanted["metadata"]
    return bool((cmeta.get("labels") or {}) == wmeta["labels"]
                and (cmeta.get("ownerReferences") or []) == wmeta["ownerReferences"]
                and current.get("addressType") == wanted["addressType"]
                and (current.get("endpoints") or []) == wanted["endpoints"]
                and (current.get("ports") or []) == wanted["ports"])


class EndpointSliceController(QueueController):
    """Keyed by the Service's ``namespace/name``."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.services = ctx.informers.informer("services")
        self.pods = ctx.informers.informer("pods")
        self.slices = ctx.informers.informer("endpointslices")
        super().__init__("endpointslice", [self.services, self.pods, self.slices],
                         clock=ctx.clock)
        ensure_index(self.slices, SERVICE_INDEX, _service_index)
        watch_service_pods(self.services, self.pods, self.queue.add)
        self.slices.add_handler(self._slice_changed, lambda _old, new: self._slice_changed(new),
                                self._slice_changed)

    def _slice_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for key in _service_index(object_of(obj)):
            self.queue.add(key)

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, _ = split_key(key)
        service = self.services.get(key)
        existing = {s["metadata"]["name"]: s
                    for s in self.slices.indexer.by_index(SERVICE_INDEX, key)}
        if service is None:
            return None  # the garbage collector removes slices owned by a deleted Service
        wanted: dict[str, Obj] = {}
        if publishes_endpoints(service):
            wanted = desired_slices(service, selected_pods(self.pods, service))
        for name, body in wanted.items():
            current = existing.get(name)
            if current is None:
                await create_endpoint_object(self.client, "endpointslices", body)
            elif not _same(current, body):
                new = deepcopy_json(current)
                new["metadata"]["labels"] = body["metadata"]["labels"]
                new["metadata"]["ownerReferences"] = body["metadata"]["ownerReferences"]
                for field in ("addressType", "endpoints", "ports"):
                    new[field] = body[field]
                await self.client.update("endpointslices", new)
        for name in sorted(set(existing) - set(wanted)):
            try:
                await self.client.delete("endpointslices", name, namespace)
            except errors.NotFound:
                pass
        return None
