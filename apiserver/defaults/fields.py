"""Setters that default a dict field the way Go defaulting treats struct fields.

Go cannot tell an omitted string or non-pointer number from its zero value, so
those default when empty or zero; pointer fields default only when nil. Each
helper tolerates whatever JSON it is handed: a field of the wrong type is left
alone for validation to report.
"""

from __future__ import annotations

from typing import Any

__all__ = ["child", "items", "set_if_empty", "set_if_none", "set_if_zero"]


def child(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` as a dict, created when absent or null (a scratch dict if mistyped)."""
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    """The dict items of a list field (other items are skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def set_if_empty(obj: dict[str, Any], key: str, value: Any) -> None:
    """For string fields: ``""`` is unset."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def set_if_none(obj: dict[str, Any], key: str, value: Any) -> None:
    """For pointer fields: only null or absent is unset."""
    if obj.get(key) is None:
        obj[key] = value


def set_if_zero(obj: dict[str, Any], key: str, value: Any) -> None:
    """For non-pointer numbers: ``0`` is unset."""
    current = obj.get(key)
    if current is None or (current == 0 and not isinstance(current, bool)):
        obj[key] = value
