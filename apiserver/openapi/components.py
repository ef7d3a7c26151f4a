"""``components.schemas`` for OpenAPI v3 documents, from the v1.32 definitions.

The definitions k8py loads are JSON Schema (nullable types as ``[x, "null"]``,
references to ``#/$defs/...``, int-or-string as ``oneOf``). OpenAPI 3.0 and
the Go clients reading it want Kubernetes' own published form: one type
string, ``#/components/schemas/...`` references wrapped in ``allOf`` when they
carry a description or patch extensions (3.0 ignores siblings of ``$ref``),
and ``IntOrString``/``Quantity`` as strings with their formats. The patch
extensions stay on the property, which is where kubectl's strategic-merge
code looks for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apiserver import schema

__all__ = ["SCHEMA_PREFIX", "schema_ref", "convert", "reachable", "component_schemas"]

SCHEMA_PREFIX = "#/components/schemas/"
_SCALARS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString holds either an int32 or a string; the field accepts both.",
        "type": "string",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point number with an optional suffix, such as 500m, 1Gi or 2.",
        "type": "string",
    },
}
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_PREFIX + name}


def convert(node: Any) -> Any:
    """One schema node in OpenAPI 3.0 form; walks structure, not property names.

    Property names are data (``JSONSchemaProps`` has a property called
    ``$ref``), so only schema positions are rewritten.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if len(kinds) == 1:
                out["type"] = kinds[0]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = convert(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [convert(sub) for sub in value]
        elif key == "$ref":
            target = schema.ref_name(node)
            out[key] = SCHEMA_PREFIX + target if target else value
        else:
            out[key] = value
    if "$ref" in out and len(out) > 1:
        ref = {"$ref": out.pop("$ref")}
        out = {"allOf": [ref], **out}
    return out


def _definition(name: str) -> dict[str, Any]:
    if name in _SCALARS:
        return dict(_SCALARS[name])
    converted: dict[str, Any] = convert(schema.definitions()[name])
    if converted.get("x-kubernetes-group-version-kind"):
        # The local schemas pin apiVersion/kind with enums Kubernetes does not publish.
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if isinstance(prop, dict):
                prop.pop("enum", None)
    return converted


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        target = schema.ref_name(node)
        if target:
            found.add(target)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    _references(sub, found)
            elif key != "$ref":
                _references(value, found)
    elif isinstance(node, list):
        for sub in node:
            _references(sub, found)


def reachable(roots: Iterable[str]) -> list[str]:
    """The named definitions and every definition they reference, sorted."""
    known = schema.definitions()
    seen: set[str] = set()
    pending = [name for name in roots if name in known]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        refs: set[str] = set()
        _references(known[name], refs)
        pending.extend(ref for ref in refs if ref in known and ref not in seen)
    return sorted(seen)


def component_schemas(roots: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``components.schemas``: the closure of ``roots`` in OpenAPI 3.0 form."""
    return {name: _definition(name) for name in reachable(roots)}
