"""The patch-relevant facts of an OpenAPI schema node, compiled once per node.

Strategic merge patch reads ``x-kubernetes-patch-strategy`` and
``x-kubernetes-patch-merge-key``; server-side apply reads
``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys`` and
``x-kubernetes-map-type``. The extensions may sit on the property (next to a
``$ref``) or on the referenced definition, so a ``Shape`` is built from the
property node and falls back to the resolved one. Shapes are cached by node
identity: the definitions are loaded once and never change, and walking a
Deployment on every write must not re-resolve ``$ref`` chains.
"""

from __future__ import annotations

from typing import Any

from apiserver import schema as openapi

__all__ = ["Shape", "ANY", "shape_of"]

# Kinds of node, as structured-merge-diff distinguishes them.
STRUCT = "struct"   # an object with declared properties (maybe also free keys)
MAP = "map"         # an object with only free keys (additionalProperties)
LIST = "list"
SCALAR = "scalar"
UNKNOWN = "any"     # no type information: deduce from the value


class Shape:
    """What the patch engines need to know about one field."""

    __slots__ = ("kind", "atomic", "list_type", "keys", "strategy", "retain_keys", "merge_key",
                 "_props", "_fields", "_elem_node", "_elem")

    def __init__(self, kind: str, *, atomic: bool = False, list_type: str = "atomic",
                 keys: tuple[str, ...] = (), strategy: str = "", retain_keys: bool = False,
                 merge_key: str = "", props: dict[str, Any] | None = None,
                 elem_node: dict[str, Any] | None = None, elem: Shape | None = None) -> None:
        self.kind = kind
        self.atomic = atomic
        self.list_type = list_type
        self.keys = keys
        self.strategy = strategy
        self.retain_keys = retain_keys
        self.merge_key = merge_key
        self._props = props or {}
        self._fields: dict[str, Shape] = {}
        self._elem_node = elem_node
        self._elem = elem

    def __repr__(self) -> str:
        return f"Shape({self.kind}, list_type={self.list_type!r}, keys={self.keys!r})"

    def declared(self, name: str) -> Shape | None:
        """The shape of a declared struct property, or None for a free map key."""
        cached = self._fields.get(name)
        if cached is not None:
            return cached
        node = self._props.get(name)
        if not isinstance(node, dict):
            return None
        shape = self._fields[name] = shape_of(node)
        return shape

    def field(self, name: str) -> Shape:
        """The shape of any key of an object: declared, free map value, or unknown."""
        return self.declared(name) or self.elem

    @property
    def elem(self) -> Shape:
        """The shape of list items or free map values (unknown when unspecified)."""
        if self._elem is None:
            self._elem = shape_of(self._elem_node) if self._elem_node is not None else ANY
        return self._elem


ANY = Shape(UNKNOWN)

_CACHE: dict[int, tuple[dict[str, Any], Shape]] = {}
# Built-in definitions are few and permanent; schemas built per request (custom
# resources) would otherwise pin their nodes in the cache forever.
_CACHE_LIMIT = 50000


def shape_of(node: dict[str, Any] | None) -> Shape:
    """The compiled shape of an OpenAPI node (``None`` means no schema: unknown)."""
    if not isinstance(node, dict):
        return ANY
    hit = _CACHE.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    shape = _build(node)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[id(node)] = (node, shape)
    return shape


def _build(node: dict[str, Any]) -> Shape:
    resolved = openapi.resolve(node)

    def ext(name: str) -> Any:
        value = node.get(name)
        return resolved.get(name) if value is None else value

    strategy_parts = [p.strip() for p in str(ext("x-kubernetes-patch-strategy") or "").split(",") if p.strip()]
    retain = "retainKeys" in strategy_parts
    strategy = next((p for p in strategy_parts if p != "retainKeys"), "")
    merge_key = str(ext("x-kubernetes-patch-merge-key") or "")
    types = openapi.types_of(resolved)
    if "array" in types or "items" in resolved:
        items = resolved.get("items")
        list_type = str(ext("x-kubernetes-list-type") or "atomic")
        keys = tuple(str(k) for k in (ext("x-kubernetes-list-map-keys") or ()))
        if list_type == "map" and not keys:
            list_type = "atomic"
        return Shape(LIST, list_type=list_type, keys=keys, strategy=strategy, retain_keys=retain,
                     merge_key=merge_key, elem_node=items if isinstance(items, dict) else None)
    props = resolved.get("properties")
    extra = resolved.get("additionalProperties")
    if "object" in types or props is not None or extra is not None:
        atomic = ext("x-kubernetes-map-type") == "atomic"
        elem_node = extra if isinstance(extra, dict) else None
        kind = STRUCT if props else MAP
        if kind == MAP and elem_node is None and extra is not True and not props:
            # An object with neither properties nor value schema carries arbitrary JSON.
            return Shape(UNKNOWN, atomic=atomic, strategy=strategy, retain_keys=retain)
        return Shape(kind, atomic=atomic, strategy=strategy, retain_keys=retain,
                     props=props if isinstance(props, dict) else None, elem_node=elem_node)
    if types:
        return Shape(SCALAR, strategy=strategy)
    return Shape(UNKNOWN, strategy=strategy, retain_keys=retain)
