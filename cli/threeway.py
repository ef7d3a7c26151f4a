"""The three-way patch of client-side ``apply``: last-applied vs manifest vs live.

kubectl's rule (apimachinery ``CreateThreeWayMergePatch``): the patch is the
union of two diffs.  From live to the new manifest it takes every change and
addition, never a deletion, so fields the server or other writers own stay;
from the last-applied configuration to the new manifest it takes only
deletions, so exactly the fields the user removed from the manifest go away.

With a schema the diff is strategic: lists whose schema says
``x-kubernetes-patch-strategy: merge`` are diffed item by item on their merge
key (changed items carry the key, removed ones ``$patch: delete``, and
``$setElementOrder/<list>`` fixes the order), lists of primitives with that
strategy use ``$deleteFromPrimitiveList``, maps with ``retainKeys`` carry
``$retainKeys``; every other list is replaced whole.  Without a schema (kinds
the client does not know) every list is atomic, which is a JSON merge patch.
"""

from __future__ import annotations

from typing import Any

from apiserver.patch.shapes import ANY, LIST, Shape, shape_of

__all__ = ["three_way_patch", "shape_for", "Shape", "ANY"]

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def shape_for(api_version: str, kind: str) -> Shape | None:
    """The root shape of a built-in kind, or None when there is no schema."""
    from apiserver import schema

    group, _, version = api_version.rpartition("/")
    node = schema.kind_schema(group, version, kind)
    return shape_of(node) if node is not None else None


def _merge_list(shape: Shape) -> str | None:
    """``key`` for keyed merge lists, ``""`` for merged primitive lists, None for atomic ones."""
    if shape.kind != LIST or shape.strategy != "merge":
        return None
    return shape.merge_key


def _keyed(items: list[Any], key: str) -> dict[Any, dict[str, Any]] | None:
    out: dict[Any, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or key not in item:
            return None
        out[_hashable(item[key])] = item
    return out


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _diff_maps(old: dict[str, Any], new: dict[str, Any], shape: Shape, *,
               deletions: bool) -> dict[str, Any]:
    """A patch from ``old`` to ``new``: only deletions, or only changes and additions."""
    patch: dict[str, Any] = {}
    for key, new_value in new.items():
        if key not in old:
            if not deletions:
                patch[key] = new_value
            continue
        _diff_value(key, old[key], new_value, shape.field(key), patch, deletions=deletions)
    if deletions:
        for key in old:
            if key not in new:
                patch[key] = None
    elif shape.retain_keys and patch:
        patch["$retainKeys"] = sorted(new)
    return patch


def _diff_value(key: str, old: Any, new: Any, shape: Shape, patch: dict[str, Any], *,
                deletions: bool) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        sub = _diff_maps(old, new, shape, deletions=deletions)
        if sub:
            patch[key] = sub
        return
    if isinstance(old, list) and isinstance(new, list):
        merge_key = _merge_list(shape)
        if merge_key is not None:
            _diff_merge_list(key, old, new, shape, merge_key, patch, deletions=deletions)
            return
    if old != new and not deletions:
        patch[key] = new


def _diff_merge_list(key: str, old: list[Any], new: list[Any], shape: Shape, merge_key: str,
                     patch: dict[str, Any], *, deletions: bool) -> None:
    if not merge_key:
        _diff_primitive_list(key, old, new, patch, deletions=deletions)
        return
    old_items, new_items = _keyed(old, merge_key), _keyed(new, merge_key)
    if old_items is None or new_items is None:  # items without their key: treat as atomic
        if old != new and not deletions:
            patch[key] = new
        return
    changes: list[Any] = []
    for ident, item in new_items.items():
        before = old_items.get(ident)
        if before is None:
            if not deletions:
                changes.append(item)
            continue
        sub = _diff_maps(before, item, shape.elem, deletions=deletions)
        if sub:
            changes.append({merge_key: item[merge_key], **sub})
    if deletions:
        changes += [{merge_key: item[merge_key], "$patch": "delete"}
                    for ident, item in old_items.items() if ident not in new_items]
    if changes:
        patch[key] = changes
        patch[_ORDER + key] = [{merge_key: item[merge_key]} for item in new]


def _diff_primitive_list(key: str, old: list[Any], new: list[Any], patch: dict[str, Any], *,
                         deletions: bool) -> None:
    if deletions:
        removed = [v for v in old if v not in new]
        if removed:
            patch[_DELETE_PRIMITIVES + key] = removed
            patch[_ORDER + key] = list(new)
        return
    added = [v for v in new if v not in old]
    if added:
        patch[key] = added
        patch[_ORDER + key] = list(new)


def _merge_patches(first: dict[str, Any], second: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Combine two patches into one; ``second`` wins where both set a plain value."""
    out = dict(first)
    for key, value in second.items():
        if key not in out:
            out[key] = value
            continue
        existing = out[key]
        if isinstance(existing, dict) and isinstance(value, dict):
            out[key] = _merge_patches(existing, value, shape.field(key))
        elif isinstance(existing, list) and isinstance(value, list) \
                and not key.startswith(("$", _ORDER, _DELETE_PRIMITIVES)) \
                and _merge_list(shape.field(key)):
            out[key] = _merge_items(existing, value, shape.field(key))
        else:
            out[key] = value
    return out


def _merge_items(first: list[Any], second: list[Any], shape: Shape) -> list[Any]:
    merge_key = shape.merge_key
    merged: list[Any] = list(first)
    positions = {_hashable(item.get(merge_key)): i for i, item in enumerate(merged)
                 if isinstance(item, dict)}
    for item in second:
        ident = _hashable(item.get(merge_key)) if isinstance(item, dict) else None
        if ident is not None and ident in positions:
            index = positions[ident]
            merged[index] = _merge_patches(merged[index], item, shape.elem)
        else:
            merged.append(item)
    return merged


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any], shape: Shape | None) -> dict[str, Any]:
    """The patch that takes ``current`` to ``modified`` and removes what the user dropped
    since ``original`` (the last-applied configuration; None when there is none)."""
    root = shape or ANY
    delta = _diff_maps(current, modified, root, deletions=False)
    removals = _diff_maps(original or {}, modified, root, deletions=True)
    return _merge_patches(removals, delta, root)
