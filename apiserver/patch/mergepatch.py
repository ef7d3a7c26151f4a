"""JSON Merge Patch (RFC 7386) for ``application/merge-patch+json`` requests.

What ``kubectl label``, ``kubectl scale`` and every CRD update from
``kubectl apply`` send: objects merge key by key, ``null`` deletes a key, and
anything else -- lists included -- replaces the old value outright.
"""

from __future__ import annotations

from typing import Any

from machinery.errors import BadRequest

from .values import deep_copy

__all__ = ["apply_merge_patch", "merge_patch_value"]


def apply_merge_patch(obj: dict[str, Any], patch: object) -> dict[str, Any]:
    """Merge ``patch`` into a copy of ``obj``; the patch must be a JSON object."""
    if not isinstance(patch, dict):
        raise BadRequest("invalid JSON Patch: a merge patch must be a JSON object")
    try:
        result = merge_patch_value(obj, patch)
    except RecursionError:
        raise BadRequest("merge patch is nested too deeply") from None
    if not isinstance(result, dict):
        raise BadRequest("invalid JSON document: the patched document is not an object")
    return result


def merge_patch_value(target: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch(target, patch)`` over copies: the inputs stay untouched."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = deep_copy(target) if isinstance(target, dict) else {}
    _merge_into(result, patch)
    return result


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> None:
    # Iterative over an explicit stack: a hostile, deeply nested patch must not
    # hit Python's recursion limit.
    stack = [(result, patch)]
    while stack:
        into, delta = stack.pop()
        for key, value in delta.items():
            if value is None:
                into.pop(key, None)
            elif isinstance(value, dict):
                child = into.get(key)
                if not isinstance(child, dict):
                    child = into[key] = {}
                stack.append((child, value))
            else:
                into[key] = deep_copy(value)
