"""JSON value helpers shared by the patch engines.

Patches must never mutate the stored object they start from (the watch cache
and informers hand out the same dicts), and JSON equality differs from Python
equality (``true`` is not ``1``), so every engine copies and compares through
these few functions.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MISSING", "deep_copy", "json_equal", "hkey"]


class _Missing:
    """Marks an absent value, which is not the same as an explicit JSON null."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def deep_copy(value: Any) -> Any:
    """A structurally independent copy; orjson does it in C for plain JSON data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return _slow_copy(value)


def _slow_copy(value: Any) -> Any:
    # Integers beyond 64 bits or odd containers that orjson refuses.
    if isinstance(value, dict):
        return {k: _slow_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_slow_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON defines it: booleans are not numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def hkey(value: Any) -> Any:
    """A hashable stand-in for a JSON value, so list items can be indexed by key."""
    if value is None:
        return ("z",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    try:
        return ("j", orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return ("r", repr(value))

