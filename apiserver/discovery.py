"""API discovery documents, built from the resource table.

Clients learn what the server serves from discovery before anything else:
kubectl maps ``deploy`` to ``apps/v1 deployments`` through short names, finds
``pods/log`` and ``deployments/scale`` as subresources and expands the ``all``
category. Two formats exist and both are served: the aggregated
``apidiscovery.k8s.io/v2`` list (one request each for ``/api`` and ``/apis``)
and the legacy ``APIVersions``/``APIGroupList``/``APIResourceList`` documents
that older clients and the fallback path read group by group.

Discovery lists what is served, not only what is stored: the
``VIRTUAL_RESOURCES`` (``metrics.k8s.io``, answered by ``apiserver.metrics``)
appear here beside the stored table, while ``group_versions`` keeps to the
stored ones that ``/openapi/v3`` describes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any, NamedTuple

from machinery.resources import RESOURCES, Resource

from . import metrics

__all__ = [
    "AGGREGATED_CONTENT_TYPE",
    "VIRTUAL_RESOURCES",
    "subresource",
    "group_versions",
    "aggregated_discovery",
    "api_versions",
    "api_group_list",
    "api_group",
    "api_resource_list",
]

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Served by handlers of their own and never stored: no etcd keys, no watch caches.
VIRTUAL_RESOURCES: tuple[Resource, ...] = metrics.RESOURCES
_SERVED: tuple[Resource, ...] = (*RESOURCES, *VIRTUAL_RESOURCES)

_READ_WRITE = ("get", "patch", "update")
_CONNECT = ("create", "get")
_PROXY = ("create", "delete", "get", "patch", "update")


class _Subresource(NamedTuple):
    """How a subresource looks in discovery: the kind it answers with, and its verbs.

    ``kind`` is ``None`` when the subresource answers with the parent's own
    kind (``status``, ``log``); otherwise it is ``(group, version, kind)``,
    with ``None`` for group and version meaning the parent's group-version.
    """

    kind: tuple[str | None, str | None, str] | None
    verbs: tuple[str, ...]


_SUBRESOURCES: dict[str, _Subresource] = {
    "status": _Subresource(None, _READ_WRITE),
    "scale": _Subresource(("autoscaling", "v1", "Scale"), _READ_WRITE),
    "binding": _Subresource((None, None, "Binding"), ("create",)),
    "eviction": _Subresource(("policy", "v1", "Eviction"), ("create",)),
    "finalize": _Subresource(None, ("update",)),
    "log": _Subresource(None, ("get",)),
}
# Streaming and proxy subresources answer with an "Options" kind per parent.
_OPTIONS_SUBRESOURCES = {"exec": "Exec", "attach": "Attach", "portforward": "PortForward", "proxy": "Proxy"}


def subresource(resource: Resource, name: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The response kind (group/version/kind) and verbs of one subresource."""
    if name in _OPTIONS_SUBRESOURCES:
        kind = f"{resource.kind}{_OPTIONS_SUBRESOURCES[name]}Options"
        verbs = _PROXY if name == "proxy" else _CONNECT
        return _gvk(resource.group, resource.version, kind), verbs
    info = _SUBRESOURCES[name]
    if info.kind is None:
        return _gvk(resource.group, resource.version, resource.kind), info.verbs
    group, version, kind = info.kind
    return _gvk(resource.group if group is None else group, version or resource.version, kind), info.verbs


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def group_versions(*, virtual: bool = False) -> list[tuple[str, str]]:
    """Every stored (group, version), core first, in resource-table order; with
    ``virtual``, the groups served without storage too."""
    seen: dict[tuple[str, str], None] = {}
    for resource in _SERVED if virtual else RESOURCES:
        seen.setdefault((resource.group, resource.version), None)
    return sorted(seen, key=lambda gv: gv[0] != "")


def _resources(group: str, version: str) -> list[Resource]:
    found = [r for r in _SERVED if (r.group, r.version) == (group, version)]
    return sorted(found, key=lambda r: r.plural)


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _versions_of(group: str) -> list[str]:
    return [v for g, v in group_versions(virtual=True) if g == group]


# -- aggregated (apidiscovery.k8s.io/v2) ------------------------------------


def _resource_discovery(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": _gvk(resource.group, resource.version, resource.kind),
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular_name,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subresources = []
    for name in sorted(resource.subresources):
        kind, verbs = subresource(resource, name)
        subresources.append({"subresource": name, "responseKind": kind, "verbs": list(verbs)})
    if subresources:
        entry["subresources"] = subresources
    return entry


@functools.cache
def _aggregated(core: bool) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for group, version in group_versions(virtual=True):
        if (group == "") == core:
            groups.setdefault(group, []).append(version)
    items = [
        {
            "metadata": {"name": group},
            "versions": [
                {
                    "version": version,
                    "resources": [_resource_discovery(r) for r in _resources(group, version)],
                    "freshness": "Current",
                }
                for version in versions
            ],
        }
        for group, versions in groups.items()
    ]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (``core=True``) or ``/apis``.

    Serve it with :data:`AGGREGATED_CONTENT_TYPE`: clients tell the aggregated
    format apart from legacy ``APIVersions`` only by that exact media type.
    The result is a fresh copy the caller may modify.
    """
    return copy.deepcopy(_aggregated(core))


# -- legacy (meta/v1 APIVersions, APIGroupList, APIGroup, APIResourceList) ---


def api_versions(*, server_address: str = "") -> dict[str, Any]:
    """Legacy ``/api``: the core versions, and where clients may reach the server.

    ``serverAddressByClientCIDRs`` is a required field (strict clients reject
    the document without it); the caller passes the address it serves on.
    """
    return {
        "kind": "APIVersions",
        "versions": _versions_of(""),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in _versions_of(group)]
    return {"name": group, "versions": versions, "preferredVersion": dict(versions[0])}


def _named_groups() -> Iterator[str]:
    seen: dict[str, None] = {}
    for group, _ in group_versions(virtual=True):
        if group:
            seen.setdefault(group, None)
    return iter(seen)


def api_group_list() -> dict[str, Any]:
    """Legacy ``/apis``: every named group with its preferred version."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g) for g in _named_groups()]}


def api_group(group: str) -> dict[str, Any] | None:
    """Legacy ``/apis/<group>``; ``None`` for a group this server does not serve."""
    if not group or group not in set(_named_groups()):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group)}


def _api_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular_name,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    return entry


def _api_subresource(resource: Resource, name: str) -> dict[str, Any]:
    kind, verbs = subresource(resource, name)
    entry: dict[str, Any] = {
        "name": f"{resource.plural}/{name}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": kind["kind"],
        "verbs": list(verbs),
    }
    # A subresource from another group-version names it; empty means "this list's".
    if (kind["group"], kind["version"]) != (resource.group, resource.version):
        entry["group"], entry["version"] = kind["group"], kind["version"]
    return entry


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Legacy ``/api/v1`` or ``/apis/<group>/<version>``, subresources included."""
    resources = _resources(group, version)
    if not resources:
        return None
    entries = []
    for resource in resources:
        entries.append(_api_resource(resource))
        entries.extend(_api_subresource(resource, name) for name in sorted(resource.subresources))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": _group_version(group, version),
        "resources": entries,
    }
