"""The Kubernetes v1.32 OpenAPI definitions, loaded once from ``kubernetes-validate``.

Kubernetes publishes the facts the API server needs as data: field types,
required fields, strategic-merge keys and list semantics. k8py reads them from
the JSON schemas that the ``kubernetes-validate`` package ships rather than
copying tables by hand, so type checks, strict field validation, strategic
merge patch, server-side apply and ``/openapi/v3`` all agree with upstream.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

__all__ = [
    "SCHEMA_VERSION",
    "definitions",
    "definition_name",
    "kind_schema",
    "resolve",
    "child",
    "item",
    "ref_name",
]

SCHEMA_VERSION = "v1.32.0-local"
Schema = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Schema]:
    """All definitions, keyed by their Go-style name (``io.k8s.api.apps.v1.Deployment``)."""
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    raw = (root / SCHEMA_VERSION / "_definitions.json").read_bytes()
    return dict(orjson.loads(raw)["$defs"])


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # Prefer the canonical io.k8s.api.* definition over meta aliases.
            if key not in index or name.startswith("io.k8s.api."):
                index[key] = name
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    return _gvk_index().get((group, version, kind))


def kind_schema(group: str, version: str, kind: str) -> Schema | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return ref[len("#/$defs/"):]
    return None


def resolve(node: Schema | None) -> Schema:
    """Follow ``$ref`` (and single-entry ``allOf``) to the schema it names."""
    seen = 0
    while node is not None and seen < 16:
        name = ref_name(node)
        if name is not None:
            node = definitions().get(name)
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            return node
        seen += 1
    return node or {}


def child(node: Schema | None, field: str) -> Schema | None:
    """The schema of property ``field`` of an object schema, or of a map's values."""
    if node is None:
        return None
    node = resolve(node)
    props = node.get("properties")
    if props is not None and field in props:
        return props[field]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def item(node: Schema | None) -> Schema | None:
    """The schema of an array's items."""
    if node is None:
        return None
    node = resolve(node)
    items = node.get("items")
    return items if isinstance(items, dict) else None


def types_of(node: Schema) -> set[str]:
    """The JSON types a schema node admits (``null`` stripped)."""
    node = resolve(node)
    if "oneOf" in node:
        out: set[str] = set()
        for alt in node["oneOf"]:
            out |= types_of(alt)
        return out
    t = node.get("type")
    if t is None:
        return set()
    if isinstance(t, str):
        return {t} - {"null"}
    return set(t) - {"null"}
