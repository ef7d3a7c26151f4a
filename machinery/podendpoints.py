"""Which pods back a Service, and at which ports: the rules Endpoints and EndpointSlices share.

Both endpoint controllers (and anything else that turns Services into
addresses) must agree with Kubernetes' ``pkg/api/v1/pod.FindPort`` and
``endpointutil``: a pod counts once it has an IP and is not terminal, a
named ``targetPort`` resolves through the pod's containerPorts, and a pod's
hostname is published only for the Service its ``subdomain`` names.  The
informer wiring (a pod change wakes every Service that selects the pod,
before and after a label change) is shared here too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.informer import DeletedFinalStateUnknown, Informer, meta_key
from machinery.meta import is_being_deleted, labels, pod_is_terminal

__all__ = [
    "find_port",
    "pod_ip",
    "pod_in_endpoints",
    "should_set_hostname",
    "service_selector",
    "services_for_pod",
    "selected_pods",
    "watch_service_pods",
    "is_headless",
    "publishes_endpoints",
    "pod_reference",
    "create_endpoint_object",
    "HEADLESS_LABEL",
]

Obj = dict[str, Any]

# Set on the Endpoints and EndpointSlices of a headless Service, as Kubernetes does.
HEADLESS_LABEL = "service.kubernetes.io/headless"


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """The pod port a service port sends to; ``None`` when a named port is missing."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if not isinstance(target, str) or not target:
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or ()), *sidecars]:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def pod_ip(pod: Mapping[str, Any], family: int = 4) -> str | None:
    """The pod's address of one IP family (``status.podIPs``, else ``status.podIP``)."""
    status = pod.get("status") or {}
    candidates = [entry.get("ip") for entry in status.get("podIPs") or ()] or [status.get("podIP")]
    for ip in candidates:
        if not ip:
            continue
        try:
            if ipaddress.ip_address(ip).version == family:
                return str(ip)
        except ValueError:
            continue
    return None


def pod_in_endpoints(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """``endpointutil.ShouldPodBeInEndpoints``: has an IP, not terminal, and maybe not terminating."""
    if pod_ip(pod) is None:
        return False
    if pod_is_terminal(pod):
        return False
    return include_terminating or not is_being_deleted(pod)


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    """A pod's ``hostname`` is published for the Service named by its ``subdomain``."""
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname"))
            and spec.get("subdomain") == (service.get("metadata") or {}).get("name")
            and (pod.get("metadata") or {}).get("namespace")
            == (service.get("metadata") or {}).get("namespace"))


def pod_reference(pod: Mapping[str, Any], service: Mapping[str, Any]) -> Obj:
    """What an Endpoints address and an EndpointSlice endpoint both say of the pod behind it.

    ``hostname`` (only where ``should_set_hostname``), ``nodeName`` if
    scheduled, and a ``targetRef`` to the pod -- in that order, as the API
    server prints them.
    """
    meta = pod.get("metadata") or {}
    out: Obj = {}
    if should_set_hostname(pod, service):
        out["hostname"] = pod["spec"]["hostname"]
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        out["nodeName"] = node
    out["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace"),
                        "name": meta.get("name"), "uid": meta.get("uid")}
    return out


def is_headless(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def service_selector(service: Mapping[str, Any]) -> dict[str, str] | None:
    """The equality selector, or ``None`` for a Service whose endpoints someone else manages."""
    selector = (service.get("spec") or {}).get("selector")
    return dict(selector) if selector else None


def publishes_endpoints(service: Mapping[str, Any]) -> bool:
    """Whether the endpoint controllers publish addresses for the Service at all.

    Not without a selector (someone else manages them) and not for an
    ExternalName Service, which is only a DNS alias.
    """
    return (service_selector(service) is not None
            and (service.get("spec") or {}).get("type") != "ExternalName")


def _selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    selector = service_selector(service)
    if selector is None:
        return False
    pod_labels = labels(pod)
    return all(pod_labels.get(k) == v for k, v in selector.items())


def selected_pods(pods: Informer, service: Mapping[str, Any]) -> list[Obj]:
    """The cached pods in the Service's namespace that its selector matches."""
    namespace = (service.get("metadata") or {}).get("namespace")
    if not namespace or service_selector(service) is None:
        return []
    return [pod for pod in pods.list(namespace) if _selects(service, pod)]


def services_for_pod(services: Informer, pod: Mapping[str, Any]) -> set[str]:
    """Keys of the Services in the pod's namespace whose selector matches it."""
    namespace = (pod.get("metadata") or {}).get("namespace")
    if not namespace:
        return set()
    return {meta_key(svc) for svc in services.list(namespace) if _selects(svc, pod)}


def watch_service_pods(services: Informer, pods: Informer,
                       enqueue: Callable[[str], None]) -> None:
    """Enqueue a Service key whenever it, or a pod it selects (before or after), changes."""

    def service_changed(obj: Obj | DeletedFinalStateUnknown) -> None:
        enqueue(obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj))

    def pod_added(pod: Obj) -> None:
        for key in services_for_pod(services, pod):
            enqueue(key)

    def pod_updated(old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == \
                (new.get("metadata") or {}).get("resourceVersion"):
            return  # a resync: nothing about the pod changed
        keys = services_for_pod(services, new)
        if labels(old) != labels(new):
            keys |= services_for_pod(services, old)
        for key in keys:
            enqueue(key)

    def pod_deleted(obj: Obj | DeletedFinalStateUnknown) -> None:
        pod_added(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    services.add_handler(service_changed, lambda _old, new: service_changed(new), service_changed)
    pods.add_handler(pod_added, pod_updated, pod_deleted)


async def create_endpoint_object(client: ApiClient, resource: str, body: Obj) -> None:
    """Create an Endpoints or EndpointSlice object the cache showed as missing.

    AlreadyExists means the cache has not yet seen an earlier create: it
    becomes a Conflict, which the worker retries quietly once the cache has
    caught up.  A terminating namespace refuses new content, and there is
    nothing to publish there any more.
    """
    namespace = body["metadata"]["namespace"]
    try:
        await client.create(resource, body, namespace)
    except errors.AlreadyExists:
        raise errors.Conflict(f'{resource} "{body["metadata"]["name"]}" exists but is not '
                              "cached yet") from None
    except errors.Forbidden:
        return
