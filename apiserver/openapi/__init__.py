"""``/openapi/v3``: the index and one OpenAPI 3.0 document per group-version.

kubectl needs these for more than documentation: without them ``apply``
falls back to client-side validation through the protobuf-only v2 endpoint
and fails, and ``explain`` has nothing to show. Each document carries the
schemas reachable from its kinds (plus the meta types its operations use) and
the REST operations of its resources. Documents never change while the server
runs, so each is built once, together with the hash the index links by.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson

from apiserver import schema
from apiserver.discovery import group_versions, subresource
from apiserver.openapi.components import component_schemas
from apiserver.openapi.paths import META, group_version_root, resource_paths
from machinery.resources import RESOURCES

__all__ = [
    "openapi_v3_index",
    "openapi_v3_document",
    "openapi_v3_hash",
    "group_version_path",
]

_META_ROOTS = ("Status", "DeleteOptions", "Patch", "WatchEvent", "APIResourceList", "ObjectMeta", "ListMeta")


def group_version_path(group: str, version: str) -> str:
    """``api/v1`` for the core group, ``apis/<group>/<version>`` for the rest."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def _paths_to_group_versions() -> dict[str, tuple[str, str]]:
    return {group_version_path(g, v): (g, v) for g, v in group_versions()}


def _roots(group: str, version: str) -> list[str]:
    roots = [META + name for name in _META_ROOTS]
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        kinds = [(resource.group, resource.version, resource.kind),
                 (resource.group, resource.version, resource.list_kind)]
        for sub in resource.subresources:
            gvk, _ = subresource(resource, sub)
            kinds.append((gvk["group"], gvk["version"], gvk["kind"]))
        roots.extend(name for name in (schema.definition_name(*k) for k in kinds) if name)
    return roots


@functools.cache
def _document(path: str) -> tuple[dict[str, Any], str]:
    group, version = _paths_to_group_versions()[path]
    prefix = "/" + path
    paths = group_version_root(prefix, group, version)
    for resource in RESOURCES:
        if (resource.group, resource.version) == (group, version):
            paths.update(resource_paths(resource, prefix))
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": component_schemas(_roots(group, version)),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": [{"BearerToken": []}],
    }
    digest = hashlib.sha512(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()
    return document, digest


def _normalise(path: str) -> str:
    path = path.strip("/")
    return path.removeprefix("openapi/v3/")


def openapi_v3_document(group_version_path: str) -> dict[str, Any] | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>``; ``None`` if not served.

    The same cached object is returned on every call: serialize it, do not
    modify it.
    """
    path = _normalise(group_version_path)
    if path not in _paths_to_group_versions():
        return None
    return _document(path)[0]


def openapi_v3_hash(group_version_path: str) -> str | None:
    """The content hash the index puts in ``serverRelativeURL`` (and an ETag)."""
    path = _normalise(group_version_path)
    if path not in _paths_to_group_versions():
        return None
    return _document(path)[1]


def openapi_v3_index() -> dict[str, Any]:
    """``/openapi/v3``: where each group-version's document lives, by hash.

    Clients cache documents by that URL, so the hash must change whenever a
    document does; it is a digest of the document itself.
    """
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={_document(path)[1]}"}
            for path in _paths_to_group_versions()
        }
    }
