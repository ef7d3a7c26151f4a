"""Field sets: which fields of an object a manager owns, in Kubernetes' FieldsV1 form.

A path is a tuple of FieldsV1 path elements -- ``f:<field>``,
``k:{"name":"web"}`` (an associative list item, by its
``x-kubernetes-list-map-keys``), ``v:<json>`` (a set item) -- and a field set
is a plain Python set of paths, so ownership arithmetic runs as C set
operations. Only members are stored; a path's prefixes are implied parents,
which FieldsV1 writes as nested objects and marks with ``"."`` when the
parent itself is a member too.

Two walks produce sets, following structured-merge-diff: :func:`object_fields`
(every field an object sets -- an apply configuration's claim) and
:func:`compare` (what changed between two versions -- an update's claim).
Both skip what Kubernetes never tracks: ``apiVersion``, ``kind``, the system
fields of ``metadata``, and ``status`` on the main resource (only ``status``
on the status subresource).
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from .shapes import LIST, MAP, STRUCT, UNKNOWN, Shape
from .values import MISSING

__all__ = [
    "Path", "FieldSet", "item_elements", "object_fields", "compare", "to_fields_v1",
    "from_fields_v1", "path_string", "prefixes", "node_kind", "LEAF", "MAPPING", "ASSOCIATIVE",
]

Path = tuple[str, ...]
FieldSet = set[Path]

# Never owned by anyone: identity and bookkeeping fields the server controls.
_ROOT_IGNORED = frozenset({"apiVersion", "kind", "status"})
_META_IGNORED = frozenset({
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "selfLink", "managedFields",
})
# Top-level structs that exist (empty) on every typed object, so their
# appearance is never a change anyone owns.
_ROOT_STRUCTS = frozenset({"metadata", "spec", "status"})
# Key fields whose defaults Kubernetes' apply schema knows (the protocol of
# container, service and endpoint ports); the published schemas omit them, and
# without them an applied port lacking ``protocol`` would not match the live one.
_KEY_DEFAULTS = {"protocol": "TCP"}

LEAF, MAPPING, ASSOCIATIVE = "leaf", "mapping", "associative"


def _json(value: Any) -> str:
    # Go's encoder escapes HTML-significant characters; FieldsV1 keys must match.
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def item_elements(items: list[Any], shape: Shape) -> list[str] | None:
    """The path element of each item of a set or associative list; None if not keyable."""
    if shape.kind != LIST:
        return None
    if shape.list_type == "map":
        out = []
        for item in items:
            if not isinstance(item, dict):
                return None
            key = {}
            for name in shape.keys:
                if name in item and item[name] is not None:
                    key[name] = item[name]
                elif name in _KEY_DEFAULTS:
                    key[name] = _KEY_DEFAULTS[name]
            if not key:
                return None
            out.append("k:" + _json(key))
        return out
    if shape.list_type == "set":
        if any(item is None or isinstance(item, (dict, list)) for item in items):
            return None
        return ["v:" + _json(item) for item in items]
    return None


def node_kind(value: Any, shape: Shape) -> str:
    """How ownership treats a value: as one leaf, a map of fields, or a keyed list."""
    if isinstance(value, dict):
        if shape.atomic or shape.kind not in (STRUCT, MAP, UNKNOWN):
            return LEAF
        return MAPPING
    if isinstance(value, list) and shape.kind == LIST and shape.list_type in ("map", "set"):
        return ASSOCIATIVE if item_elements(value, shape) is not None else LEAF
    return LEAF


def tracked_view(obj: Any, scope: str) -> dict[str, Any]:
    """The part of an object whose fields can be owned (a shallow, filtered view)."""
    if not isinstance(obj, dict):
        return {}
    if scope == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    view = {k: v for k, v in obj.items() if k not in _ROOT_IGNORED}
    meta = view.get("metadata")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k not in _META_IGNORED}
        if kept:
            view["metadata"] = kept
        else:
            del view["metadata"]
    return view


# -- the fields an object sets ---------------------------------------------------


def object_fields(obj: Any, shape: Shape, scope: str = "main") -> FieldSet:
    """Every field ``obj`` sets, as an applier would own them."""
    out: FieldSet = set()
    _map_fields(tracked_view(obj, scope), shape, (), out)
    return out


def _map_fields(value: dict[str, Any], shape: Shape, path: Path, out: FieldSet) -> None:
    for key, child in value.items():
        declared = shape.declared(key) if shape.kind == STRUCT else None
        child_path = path + ("f:" + key,)
        _fields(child, declared or shape.elem, child_path, out)
        if declared is None or child is None or (isinstance(child, dict) and not child):
            out.add(child_path)


def _fields(value: Any, shape: Shape, path: Path, out: FieldSet) -> None:
    kind = node_kind(value, shape)
    if kind == MAPPING:
        _map_fields(value, shape, path, out)
    elif kind == ASSOCIATIVE:
        elements = item_elements(value, shape) or []
        seen: dict[str, int] = {}
        for element in elements:
            seen[element] = seen.get(element, 0) + 1
        for item, element in zip(value, elements):
            item_path = path + (element,)
            if seen[element] == 1:
                _fields(item, shape.elem, item_path, out)
            out.add(item_path)
    else:
        out.add(path)


# -- what changed between two versions -------------------------------------------


def compare(old: Any, new: Any, shape: Shape, scope: str = "main") -> tuple[FieldSet, FieldSet, FieldSet]:
    """``(added, removed, modified)`` paths from ``old`` to ``new``."""
    added: FieldSet = set()
    removed: FieldSet = set()
    modified: FieldSet = set()
    acc = (added, removed, modified)
    before, after = tracked_view(old, scope), tracked_view(new, scope)
    for key in _union(before, after):
        b, a = before.get(key, MISSING), after.get(key, MISSING)
        structural = key in _ROOT_STRUCTS and isinstance(a if b is MISSING else b, dict)
        _diff(b, a, shape.field(key), ("f:" + key,), acc, track_self=not structural)
    return added, removed, modified


def _union(a: dict[str, Any], b: dict[str, Any]) -> Iterable[str]:
    yield from a
    for key in b:
        if key not in a:
            yield key


def _diff(old: Any, new: Any, shape: Shape, path: Path,
          acc: tuple[FieldSet, FieldSet, FieldSet], track_self: bool = True) -> None:
    added, removed, modified = acc
    if old is MISSING:
        if track_self or node_kind(new, shape) == LEAF:
            added.add(path)
        _descendants(new, shape, path, added)
        return
    if new is MISSING:
        if track_self or node_kind(old, shape) == LEAF:
            removed.add(path)
        _descendants(old, shape, path, removed)
        return
    if type(old) is type(new) and old == new:
        return
    kind = node_kind(old, shape)
    if kind != node_kind(new, shape) or kind == LEAF:
        modified.add(path)
        if kind != LEAF or node_kind(new, shape) != LEAF:
            _descendants(old, shape, path, removed)
            _descendants(new, shape, path, added)
        return
    if kind == MAPPING:
        for key in _union(old, new):
            _diff(old.get(key, MISSING), new.get(key, MISSING), shape.field(key), path + ("f:" + key,), acc)
        return
    before, dup_before = _index(old, shape)
    after, dup_after = _index(new, shape)
    for element in _union(before, after):
        child = path + (element,)
        if element in dup_before or element in dup_after:
            # Duplicated keys make the item opaque: it changes as a whole.
            if dup_before.get(element) != dup_after.get(element) or before.get(element) != after.get(element):
                modified.add(child)
            continue
        _diff(before.get(element, MISSING), after.get(element, MISSING), shape.elem, child, acc)


def _index(items: list[Any], shape: Shape) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    by_element: dict[str, Any] = {}
    dups: dict[str, list[Any]] = {}
    for item, element in zip(items, item_elements(items, shape) or []):
        if element in by_element:
            dups.setdefault(element, [by_element[element]]).append(item)
        else:
            by_element[element] = item
    return by_element, dups


def _descendants(value: Any, shape: Shape, path: Path, out: FieldSet) -> None:
    """Every path strictly below ``path`` in ``value`` (a wholly new or gone subtree)."""
    kind = node_kind(value, shape)
    if kind == MAPPING:
        for key, child in value.items():
            child_path = path + ("f:" + key,)
            out.add(child_path)
            _descendants(child, shape.field(key), child_path, out)
    elif kind == ASSOCIATIVE:
        for item, element in zip(value, item_elements(value, shape) or []):
            child_path = path + (element,)
            out.add(child_path)
            _descendants(item, shape.elem, child_path, out)


# -- FieldsV1 --------------------------------------------------------------------

_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _order(element: str) -> tuple[int, str]:
    return _RANK.get(element[:1], 4), element[2:]


def to_fields_v1(fields: FieldSet) -> dict[str, Any]:
    """Render a field set as the FieldsV1 trie Kubernetes stores."""
    root: dict[str, Any] = {}
    for path in fields:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return _finish(root)


def _finish(node: dict[str, Any]) -> dict[str, Any]:
    children = [k for k in node if k != "."]
    if not children:
        return {}
    out: dict[str, Any] = {".": {}} if "." in node else {}
    for key in sorted(children, key=_order):
        out[key] = _finish(node[key])
    return out


def from_fields_v1(tree: Any) -> FieldSet:
    """Parse a FieldsV1 trie; raises ValueError when it is not one."""
    out: FieldSet = set()
    if not isinstance(tree, dict):
        raise ValueError("fieldsV1 must be an object")
    stack: list[tuple[Path, dict[str, Any]]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        for key, child in node.items():
            if key == ".":
                if path:
                    out.add(path)
                continue
            if len(key) < 2 or key[1] != ":" or key[0] not in _RANK or not isinstance(child, dict):
                raise ValueError(f"invalid path element {key!r}")
            if key[0] in "kv":
                orjson.loads(key[2:])
            child_path = path + (key,)
            if child:
                stack.append((child_path, child))
            else:
                out.add(child_path)
    return out


def prefixes(fields: FieldSet) -> FieldSet:
    """Every proper, non-empty prefix of the paths in ``fields``."""
    out: FieldSet = set()
    for path in fields:
        for end in range(1, len(path)):
            out.add(path[:end])
    return out


def _go_string(value: Any) -> str:
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return _json(value)


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: ``.spec.containers[name="web"].image``."""
    parts = []
    for element in path:
        tag, body = element[:1], element[2:]
        if tag == "f":
            parts.append("." + body)
        elif tag == "k":
            key = orjson.loads(body)
            parts.append("[" + ",".join(f"{k}={_go_string(v)}" for k, v in sorted(key.items())) + "]")
        elif tag == "v":
            parts.append(f"[={_go_string(orjson.loads(body))}]")
        else:
            parts.append(f"[{body}]")
    return "".join(parts)
