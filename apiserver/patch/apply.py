"""Server-side apply and field-ownership tracking for ordinary writes (KEP-555).

``server_side_apply`` follows structured-merge-diff's Apply: the applier's
configuration is merged into the live object (associative lists by key, sets
by value, atomic values replaced whole); fields the applier owned last time
but omits now are removed unless another manager still owns them; and a
change to a field another manager owns is a conflict, unless forced, when the
applier takes it over. ``update_managed_fields`` records a create, update or
patch: the fields it changed move to the writing manager.
"""

from __future__ import annotations

from typing import Any

from machinery.errors import BadRequest, Invalid

from .fieldpath import (ASSOCIATIVE, MAPPING, FieldSet, Path, compare, item_elements, node_kind,
                        object_fields, path_string, prefixes)
from .managed import (APPLY, UPDATE, Entry, conflict_error, decode_entries, encode_entries,
                      find_entry, is_reset)
from .shapes import ANY, STRUCT, Shape, shape_of
from .values import MISSING, deep_copy

__all__ = ["server_side_apply", "update_managed_fields", "BEFORE_FIRST_APPLY"]

# Owner of everything an object held before its first apply, so an applier
# cannot silently claim fields nobody recorded.
BEFORE_FIRST_APPLY = "before-first-apply"
# Every configuration names the object, so metadata always has an owner while
# applying, even though ownership of the name itself is never recorded.
_ALWAYS_OWNED: FieldSet = {("f:metadata",)}


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], *, manager: str, force: bool,
                      schema: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: create it)."""
    try:
        return _apply(live, applied, manager, force, shape_of(schema) if schema else ANY, now)
    except RecursionError:
        raise BadRequest("apply configuration is nested too deeply") from None


def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str,
                          operation: str = "Update", subresource: str | None = None,
                          schema: dict[str, Any] | None, now: str) -> None:
    """Record in ``new.metadata.managedFields`` what ``manager`` changed from ``old``."""
    meta = new.get("metadata") if isinstance(new, dict) else None
    if not isinstance(meta, dict):
        return
    shape = shape_of(schema) if schema else ANY
    old_raw = _managed_raw(old)
    new_raw = meta.get("managedFields")
    try:
        added, removed, modified = compare(old if old is not None else {}, new, shape,
                                           "status" if subresource == "status" else "main")
    except RecursionError:
        raise BadRequest("object is nested too deeply") from None
    changed = added | modified
    if subresource or (not is_reset(new_raw) and not new_raw):
        source = old_raw
    else:
        source = [] if is_reset(new_raw) else new_raw
    entries = decode_entries(source)
    if entries is None:
        # A malformed list from the client: keep what the server recorded.
        entries, source = decode_entries(old_raw) or [], None
    if not changed and not removed:
        if source is not new_raw:
            _store(meta, entries)
        return
    for entry in entries:
        entry.fields -= changed
        entry.fields -= removed
    if changed:
        version = str(new.get("apiVersion") or "")
        mine = find_entry(entries, manager, operation, version, subresource or "")
        if mine is None:
            mine = Entry(manager, operation, version, subresource or "")
            entries.append(mine)
        mine.fields |= changed
        mine.time = now
    _store(meta, entries)


def _managed_raw(obj: Any) -> Any:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta.get("managedFields") if isinstance(meta, dict) else None


def _store(meta: dict[str, Any], entries: list[Entry]) -> None:
    encoded = encode_entries(entries)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


# -- apply -----------------------------------------------------------------------


def _apply(live: dict[str, Any] | None, applied: Any, manager: str, force: bool, shape: Shape,
           now: str) -> dict[str, Any]:
    if not isinstance(applied, dict):
        raise BadRequest("apply configuration must be a JSON object")
    meta = applied.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise BadRequest("metadata.managedFields must be nil")
    if live is not None and not isinstance(live, dict):
        raise BadRequest("invalid JSON document")
    _check_config(applied, applied, shape, ())
    version = str(applied.get("apiVersion") or (live or {}).get("apiVersion") or "")
    base: dict[str, Any] = deep_copy(live) if live is not None else {}
    base_meta = base.get("metadata")
    raw = base_meta.pop("managedFields", None) if isinstance(base_meta, dict) else None
    entries = decode_entries(raw) or []
    if live is not None and not entries:
        owned = object_fields(live, shape)
        if owned:
            entries.append(Entry(BEFORE_FIRST_APPLY, UPDATE, str(live.get("apiVersion") or version),
                                 time=now, fields=owned))
    claimed = object_fields(applied, shape)
    merged: dict[str, Any] = _merge(base, applied, shape)
    previous = find_entry(entries, manager, APPLY, version)
    if previous is not None and previous.fields:
        keep = claimed | _ALWAYS_OWNED
        for entry in entries:
            if entry is not previous:
                keep |= entry.fields
        _prune(merged, shape, (), _Ownership(previous.fields), _Ownership(keep))
    added, removed, modified = compare(live if live is not None else {}, merged, shape)
    changed = added | modified
    conflicts = [(e, e.fields & changed) for e in entries if e is not previous and e.fields & changed]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for entry in entries:
        if entry is not previous:
            entry.fields -= changed
            entry.fields -= removed
    if previous is None:
        previous = Entry(manager, APPLY, version)
        entries.append(previous)
    previous.api_version = version
    previous.fields = claimed
    if changed or removed or previous.time is None:
        previous.time = now
    merged_meta = merged.setdefault("metadata", {})
    _store(merged_meta, entries)
    return merged


def _check_config(root: dict[str, Any], value: Any, shape: Shape, path: Path) -> None:
    """Reject what cannot be merged: list items without keys, or with the same key twice."""
    kind = node_kind(value, shape)
    if isinstance(value, dict) and kind == MAPPING:
        for key, child in value.items():
            _check_config(root, child, shape.field(key), path + ("f:" + key,))
        return
    if not isinstance(value, list) or shape.kind != "list" or shape.list_type not in ("map", "set"):
        return
    elements = item_elements(value, shape)
    if elements is None:
        what = (f"associative list with keys has an element that omits all key fields {list(shape.keys)}"
                if shape.list_type == "map" else "associative list without keys has an invalid element")
        raise Invalid(_typed_error(root, path, what))
    seen: set[str] = set()
    for item, element in zip(value, elements):
        if element in seen:
            raise Invalid(_typed_error(root, path, f"duplicate entries for key {path_string((element,))}"))
        seen.add(element)
        _check_config(root, item, shape.elem, path + (element,))


def _typed_error(root: dict[str, Any], path: Path, what: str) -> str:
    meta = root.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    name = "/".join(str(p) for p in (meta.get("namespace"), meta.get("name")) if p)
    return (f"failed to create typed patch object ({name}; {root.get('apiVersion')}, "
            f"Kind={root.get('kind')}): {path_string(path)}: {what}")


def _clean(value: Any) -> Any:
    """A copy of a configuration value with null map entries dropped."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _merge(lhs: Any, rhs: Any, shape: Shape) -> Any:
    """Merge configuration ``rhs`` into ``lhs``, which the caller owns and may lose."""
    if lhs is MISSING or lhs is None:
        return _clean(rhs)
    kind = node_kind(rhs, shape)
    if kind != node_kind(lhs, shape):
        return _clean(rhs)
    if kind == MAPPING:
        for key, value in rhs.items():
            if value is None:
                lhs.pop(key, None)
            else:
                lhs[key] = _merge(lhs.get(key, MISSING), value, shape.field(key))
        return lhs
    if kind == ASSOCIATIVE:
        return _merge_list(lhs, rhs, shape)
    return _clean(rhs)


def _merge_list(lhs: list[Any], rhs: list[Any], shape: Shape) -> list[Any]:
    """Merge keyed lists, keeping live-only items in place and the config's order of the rest.

    A live item the config also names waits until the config reaches it, so
    the config can reorder shared items; config-only items land before the
    next shared item that follows them in the config.
    """
    left = item_elements(lhs, shape) or []
    right = item_elements(rhs, shape) or []
    live_items: dict[str, Any] = {}
    for item, element in zip(lhs, left):
        live_items.setdefault(element, item)
    config_items = dict(zip(right, rhs))
    shared = [e for e in right if e in live_items]
    out: list[Any] = []
    emitted: set[str] = set()
    li = ri = si = 0
    while li < len(left) or ri < len(right):
        if li < len(left):
            element = left[li]
            if element not in config_items:
                out.append(lhs[li])
                li += 1
                continue
            if element in emitted or (si < len(shared) and shared[si] != element):
                li += 1
                continue
        element = right[ri]
        out.append(_merge(live_items.get(element, MISSING), config_items[element], shape.elem))
        emitted.add(element)
        ri += 1
        while si < len(shared) and shared[si] in emitted:
            si += 1
    return out


class _Ownership:
    """A field set with its implied parents, for membership tests during pruning."""

    __slots__ = ("members", "parents")

    def __init__(self, fields: FieldSet) -> None:
        self.members = fields
        self.parents = prefixes(fields)

    def owns(self, path: Path, named: bool) -> bool:
        # A declared struct field counts as owned when anything beneath it is.
        return path in self.members or (named and path in self.parents)


def _prune(node: Any, shape: Shape, path: Path, last: _Ownership, keep: _Ownership) -> None:
    """Remove what the applier owned before, dropped now, and nobody else owns."""
    kind = node_kind(node, shape)
    if kind == MAPPING:
        for key in list(node):
            child = path + ("f:" + key,)
            if child not in last.members and child not in last.parents:
                continue
            named = shape.kind == STRUCT and shape.declared(key) is not None
            if last.owns(child, named) and not keep.owns(child, named):
                del node[key]
            elif child in last.parents:
                _prune(node[key], shape.field(key), child, last, keep)
    elif kind == ASSOCIATIVE:
        kept = []
        for item, element in zip(node, item_elements(node, shape) or []):
            child = path + (element,)
            if child in last.members and child not in keep.members:
                continue
            if child in last.parents:
                _prune(item, shape.elem, child, last, keep)
            kept.append(item)
        node[:] = kept
