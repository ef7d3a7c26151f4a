"""Objects the API server keeps in place itself, as kube-apiserver does.

The system namespaces exist from the first start, and ``default/kubernetes``
is a Service on the first address of the service range whose Endpoints and
EndpointSlice point at this server's advertised address, so in-cluster
clients can find the API the Kubernetes way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from machinery import errors
from machinery.resources import by_plural

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["SYSTEM_NAMESPACES", "ensure_system_objects"]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _resource(group: str, plural: str):  # type: ignore[no-untyped-def]
    r = by_plural(group, "v1", plural)
    assert r is not None
    return r


async def _create_or_keep(registry: "Registry", group: str, plural: str, namespace: str | None, body: dict) -> None:
    from .registry import WriteOptions
    r = _resource(group, plural)
    try:
        await registry.get(r, namespace, body["metadata"]["name"])
        return
    except errors.NotFound:
        pass
    try:
        await registry.create(r, namespace, body, WriteOptions(field_manager="kube-apiserver"))
    except (errors.AlreadyExists, errors.Conflict):
        pass  # another API server created it first


async def _put(registry: "Registry", group: str, plural: str, namespace: str, name: str, body: dict) -> None:
    """Create or replace an object the server owns (its endpoints follow the advertise address)."""
    from .registry import WriteOptions
    r = _resource(group, plural)
    try:
        current = await registry.get(r, namespace, name)
    except errors.NotFound:
        await _create_or_keep(registry, group, plural, namespace, body)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    try:
        await registry.update(r, namespace, name, body, WriteOptions(field_manager="kube-apiserver"))
    except errors.Conflict:
        pass  # another API server wrote it at the same moment: fine either way


async def ensure_system_objects(registry: "Registry", advertise_address: str, port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        await _create_or_keep(registry, "", "namespaces", None, {"metadata": {"name": name}})
    labels = {"component": "apiserver", "provider": "kubernetes"}
    await _create_or_keep(registry, "", "services", "default", {
        "metadata": {"name": "kubernetes", "labels": labels},
        "spec": {"clusterIP": registry.allocator.first_ip, "type": "ClusterIP", "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    })
    await _put(registry, "", "endpoints", "default", "kubernetes", {
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_address}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
    await _put(registry, "discovery.k8s.io", "endpointslices", "default", "kubernetes", {
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
