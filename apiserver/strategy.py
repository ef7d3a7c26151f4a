"""Per-kind rules the generic registry consults (Kubernetes' "REST strategies").

Most kinds behave alike; the differences are data or small hooks here: which
kinds reset status on create, how a pod's QoS class and initial status are
set, which kinds may be created by an update, and which get a graceful delete.
"""

from __future__ import annotations

from typing import Any

from machinery.quantity import parse_quantity
from machinery.resources import Resource

__all__ = [
    "reset_status_on_create",
    "allow_create_on_update",
    "spec_changed",
    "pod_qos_class",
    "prepare_pod_status",
    "graceful_seconds",
    "add_create_finalizers",
]

Obj = dict[str, Any]

# Kinds whose status a client may not set on create (it belongs to controllers).
_RESET_STATUS = {
    "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
    "services", "persistentvolumeclaims", "persistentvolumes", "ingresses",
}
# Finalizers admission adds on create (StorageObjectInUseProtection): a claim in use
# by a pod is not deleted until the pvc-protection controller lets it go.
_CREATE_FINALIZERS = {"persistentvolumeclaims": ("kubernetes.io/pvc-protection",)}
# Kinds that a PUT on a missing object creates, as in Kubernetes.
_CREATE_ON_UPDATE = {"leases", "endpoints", "events", "endpointslices"}


def reset_status_on_create(resource: Resource) -> bool:
    return resource.plural in _RESET_STATUS or resource.plural == "pods"


def allow_create_on_update(resource: Resource) -> bool:
    return resource.plural in _CREATE_ON_UPDATE


def spec_changed(old: Obj, new: Obj) -> bool:
    """Whether ``metadata.generation`` must advance: any change outside metadata and status."""
    keys = (set(old) | set(new)) - {"metadata", "status", "kind", "apiVersion"}
    return any(old.get(k) != new.get(k) for k in keys)


def _resource_list(container: Obj, which: str) -> dict[str, Any]:
    res = container.get("resources") or {}
    out = res.get(which) or {}
    return out if isinstance(out, dict) else {}


def pod_qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from cpu and memory requests and limits."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        if not isinstance(c, dict):
            continue
        requests = _resource_list(c, "requests")
        limits = _resource_list(c, "limits")
        for name in ("cpu", "memory"):
            req, lim = requests.get(name), limits.get(name)
            if req is not None or lim is not None:
                any_set = True
            if lim is None:
                guaranteed = False
            elif req is not None:
                try:
                    if parse_quantity(req) != parse_quantity(lim):
                        guaranteed = False
                except ValueError:
                    guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def prepare_pod_status(pod: Obj) -> None:
    pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod)}


def graceful_seconds(resource: Resource, obj: Obj, requested: int | None) -> int:
    """How long a delete waits for the owner of the object to finish it.

    Only a pod that a kubelet runs is deleted gracefully: the kubelet stops its
    containers and then removes the object with a zero grace period.
    """
    if resource.plural != "pods":
        return 0
    spec = obj.get("spec") or {}
    if not spec.get("nodeName"):
        return 0
    phase = (obj.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, int(requested))
    grace = spec.get("terminationGracePeriodSeconds")
    return 30 if grace is None else max(0, int(grace))


def add_create_finalizers(resource: Resource, obj: Obj) -> None:
    """Append the finalizers admission gives every new object of this kind."""
    wanted = _CREATE_FINALIZERS.get(resource.plural, ())
    if not wanted:
        return
    meta = obj.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    meta["finalizers"] = finalizers + [f for f in wanted if f not in finalizers]
