"""Strategic merge patch, what ``kubectl apply`` (client-side) and ``kubectl edit`` send.

Semantics follow apimachinery's ``strategicpatch`` as the API server runs it:
maps merge recursively and ``null`` deletes; lists whose schema says
``x-kubernetes-patch-strategy: merge`` merge by ``x-kubernetes-patch-merge-key``
(or as a set, for lists of primitives) and keep the order the patch asks
for; every other list is replaced. Directives:

* ``$patch: replace`` (map: take the patch as the whole value; list item: the
  patch items replace the list), ``$patch: delete`` (map: empty it; list item:
  drop the item with that key), ``$patch: merge`` (the default, spelled out);
* ``$retainKeys: [...]`` drops keys of the live map not listed;
* ``$setElementOrder/<list>: [...]`` fixes the final order of a merged list,
  server-only items keeping their place relative to the live order;
* ``$deleteFromPrimitiveList/<list>: [...]`` removes values from a merged
  list of primitives.

Malformed directives are 400 BadRequest, lists of lists 422 Invalid, as in
Kubernetes. Without a schema (custom resources) it degrades to JSON merge
patch: maps merge, lists are replaced.
"""

from __future__ import annotations

from typing import Any

from machinery.errors import BadRequest, Invalid

from .shapes import ANY, LIST, Shape, shape_of
from .values import deep_copy, hkey

__all__ = ["apply_strategic_merge_patch"]

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def apply_strategic_merge_patch(obj: dict[str, Any], patch: object,
                                schema: dict[str, Any] | None) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``obj`` using the kind's root schema."""
    if not isinstance(patch, dict):
        raise BadRequest("invalid JSON document: a strategic merge patch must be a JSON object")
    if not isinstance(obj, dict):
        raise BadRequest("invalid JSON document")
    try:
        return _merge_map(deep_copy(obj), patch, shape_of(schema) if schema else ANY)
    except RecursionError:
        raise BadRequest("strategic merge patch is nested too deeply") from None


def _directive(patch: dict[str, Any]) -> str | None:
    if _PATCH not in patch:
        return None
    value = patch[_PATCH]
    if value not in ("replace", "delete", "merge"):
        raise BadRequest(f"unknown patch type: {value} in map: {patch}")
    return str(value)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (which this call owns and may change)."""
    directive = _directive(patch)
    if directive == "delete":
        return {}
    if directive == "replace":
        original = {}
    if _RETAIN in patch:
        _retain_keys(original, patch)
    handled: set[str] = set()
    for key, order in patch.items():
        if key.startswith(_ORDER):
            list_name = key[len(_ORDER):]
            if not list_name:
                raise BadRequest("invalid patch format of setElementOrder list")
            _set_element_order(original, patch, list_name, order, shape.field(list_name))
            handled.add(list_name)
    deletions: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key in handled or key in (_PATCH, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVES):
            deletions.append((key, value))
            continue
        if value is None:
            original.pop(key, None)
            continue
        field = shape.field(key)
        current = original.get(key)
        if isinstance(value, dict) and value.get(_PATCH) == "delete" and not isinstance(current, dict):
            original.pop(key, None)  # nothing here is a map to empty: the key goes
            continue
        if key not in original:
            original[key] = _fresh(value, field)
            continue
        if isinstance(current, dict) and isinstance(value, dict):
            original[key] = _fresh(value, field) if field.strategy == "replace" else \
                _merge_map(current, value, field)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, field)
        else:
            original[key] = _fresh(value, field)
    for key, value in deletions:
        field_name = key[len(_DELETE_PRIMITIVES):]
        if not field_name or not isinstance(value, list):
            raise BadRequest("invalid patch format of primitive list")
        current = original.get(field_name)
        if isinstance(current, list):
            doomed = {hkey(v) for v in value}
            original[field_name] = [v for v in current if hkey(v) not in doomed]
    return original


def _fresh(value: Any, shape: Shape) -> Any:
    """A patch value landing where nothing was: merge it into emptiness."""
    if isinstance(value, dict):
        return _merge_map({}, value, shape)
    if isinstance(value, list):
        if shape.kind == LIST and _is_merge_list(shape, value):
            return _merge_list([], value, shape)
        return [_fresh(v, shape.elem) if isinstance(v, dict) else deep_copy(v)
                for v in value if not (isinstance(v, dict) and _PATCH in v)]
    return value


def _is_merge_list(shape: Shape, patch: list[Any]) -> bool:
    if shape.strategy == "merge":
        return True
    return any(isinstance(v, dict) and v.get(_PATCH) == "merge" for v in patch)


def _merge_list_field(current: list[Any], patch: list[Any], shape: Shape) -> list[Any]:
    if shape.kind == LIST and _is_merge_list(shape, patch):
        return _merge_list(current, patch, shape)
    return _fresh(patch, shape)  # type: ignore[no-any-return]


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    keep = patch[_RETAIN]
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise BadRequest("invalid patch format of retainKeys")
    allowed = set(keep)
    for key, value in patch.items():
        if value is None or key.startswith("$"):
            continue
        if key not in allowed:
            raise BadRequest("invalid patch format of retainKeys")
    for key in [k for k in original if k not in allowed]:
        del original[key]


# -- lists ---------------------------------------------------------------------


def _element_kind(*lists: list[Any]) -> str:
    """``map`` or ``scalar`` for the items of merged lists; mixed kinds are refused."""
    kind = ""
    for items in lists:
        for item in items:
            if isinstance(item, list):
                raise Invalid("lists of lists are not supported")
            this = "map" if isinstance(item, dict) else "scalar"
            if kind and this != kind:
                raise BadRequest(f"list element types are not identical: {lists}")
            kind = this
    return kind or "scalar"


def _item_key(item: Any, merge_key: str) -> Any:
    if merge_key and isinstance(item, dict):
        if merge_key not in item:
            raise BadRequest(f"map: {item} does not contain declared merge key: {merge_key}")
        return hkey(item[merge_key])
    return hkey(item)


def _merge_list(current: list[Any], patch: list[Any], shape: Shape) -> list[Any]:
    """Merge two lists by merge key (maps) or by value (primitives), then order them."""
    if not current and not patch:
        return current
    kind = _element_kind(current, patch)
    merge_key = shape.merge_key if kind == "map" else ""
    if kind == "map":
        if not merge_key:
            raise BadRequest("cannot merge lists without merge key")
        current, patch = _special_items(current, patch, merge_key)
        merged = list(current)
        position = {_item_key(item, merge_key): i for i, item in enumerate(merged)}
        for item in patch:
            key = _item_key(item, merge_key)
            if key in position:
                merged[position[key]] = _merge_map(merged[position[key]], item, shape.elem)
            else:
                position[key] = len(merged)
                merged.append(_merge_map({}, item, shape.elem))
    else:
        merged, seen = [], set()
        for item in list(current) + list(patch):
            key = hkey(item)
            if key not in seen:
                seen.add(key)
                merged.append(deep_copy(item))
    return _ordered(merged, patch, current, merge_key)


def _special_items(current: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Apply ``$patch`` items of a list patch; return the remaining original and patch."""
    plain, replace = [], False
    for item in patch:
        directive = _directive(item)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise BadRequest(f"map: {item} does not contain declared merge key: {merge_key}")
            doomed = hkey(item[merge_key])
            current = [c for c in current if _item_key(c, merge_key) != doomed]
        elif directive == "replace":
            replace = True
    if replace:
        return [], plain
    return current, plain


def _ordered(merged: list[Any], order: list[Any], server: list[Any], merge_key: str) -> list[Any]:
    """Items named in ``order`` follow it; server-only items keep their live positions.

    Each server-only item is placed before the first ordered item that came
    after it in the live list, so both relative orders survive.
    """
    order_pos: dict[Any, int] = {}
    for i, item in enumerate(order):
        if isinstance(item, dict) and _PATCH in item:
            continue
        order_pos.setdefault(_item_key(item, merge_key), i)
    server_pos: dict[Any, int] = {}
    for i, item in enumerate(server):
        server_pos.setdefault(_item_key(item, merge_key), i)
    ordered: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        (ordered if _item_key(item, merge_key) in order_pos else server_only).append(item)
    ordered.sort(key=lambda item: order_pos[_item_key(item, merge_key)])
    server_only.sort(key=lambda item: server_pos.get(_item_key(item, merge_key), len(server)))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(ordered):
        if j >= len(ordered):
            out.append(server_only[i])
            i += 1
            continue
        if i < len(server_only):
            left = server_pos.get(_item_key(server_only[i], merge_key))
            right = server_pos.get(_item_key(ordered[j], merge_key))
            if left is not None and right is not None and left < right:
                out.append(server_only[i])
                i += 1
                continue
        out.append(ordered[j])
        j += 1
    return out


def _set_element_order(original: dict[str, Any], patch: dict[str, Any], field: str, order: Any,
                       shape: Shape) -> None:
    if not isinstance(order, list):
        raise BadRequest("invalid patch format of setElementOrder list")
    merge_key = shape.merge_key
    has_current, has_patch = isinstance(original.get(field), list), field in patch
    raw_patch = patch.get(field)
    if has_patch and raw_patch is None:
        original.pop(field, None)
        return
    if has_patch and not isinstance(raw_patch, list):
        raise BadRequest("invalid patch format of setElementOrder list")
    patch_list: list[Any] = raw_patch or []
    current = original[field] if has_current else []
    kind = _element_kind(current, patch_list, order)
    key_name = merge_key if kind == "map" else ""
    if kind == "map" and not merge_key:
        raise BadRequest("invalid patch format of setElementOrder list")
    if has_patch:
        _check_order(patch_list, order, key_name)
    if has_patch and has_current:
        merged = _merge_list_field(current, patch_list, shape)
    elif has_patch:
        merged = _fresh(patch_list, shape)
    elif has_current:
        merged = current
    else:
        return
    original[field] = _ordered(merged, order, current, key_name)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Patch items must appear in ``$setElementOrder`` and in the same relative order."""
    wanted = [_item_key(item, merge_key) for item in order]
    at = 0
    for item in patch_list:
        if isinstance(item, dict) and _PATCH in item:
            continue
        key = _item_key(item, merge_key)
        while at < len(wanted) and wanted[at] != key:
            at += 1
        if at >= len(wanted):
            raise BadRequest(
                f"The order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order}\n")
        at += 1
