"""Field errors worded the way Kubernetes words them.

A 422 from Kubernetes carries one ``StatusCause`` per field error, and kubectl
prints ``<field>: <body>`` joined into one line. Users (and tests written
against real clusters) match on that text, so the bodies here follow
apimachinery's ``field.Error.ErrorBody``: the type's canonical phrase, then the
bad value rendered as Go's ``fmt`` would, then the detail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "Cause",
    "GoRaw",
    "child",
    "index",
    "key",
    "required",
    "invalid",
    "not_supported",
    "duplicate",
    "forbidden",
    "too_long",
    "not_found",
    "go_value",
    "go_quote",
    "go_map",
    "go_strings",
    "aggregate",
    "zero_pruned",
    "go_diff",
    "FIELD_IMMUTABLE",
]

Cause = dict[str, str]

FIELD_IMMUTABLE = "field is immutable"


class GoRaw(str):
    """A value Kubernetes prints through ``String()``: shown bare, not quoted."""


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def _cause(reason: str, path: str, message: str) -> Cause:
    return {"reason": reason, "message": message, "field": path}


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def required(path: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", path, _with_detail("Required value", detail))


def forbidden(path: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", path, _with_detail("Forbidden", detail))


def too_long(path: str, max_bytes: int) -> Cause:
    return _cause("FieldValueTooLong", path, f"Too long: must have at most {max_bytes} bytes")


def invalid(path: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueInvalid", path,
                  _with_detail(f"Invalid value: {go_value(value)}", detail))


def duplicate(path: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", path, f"Duplicate value: {go_value(value)}")


def not_found(path: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueNotFound", path, _with_detail(f"Not found: {go_value(value)}", detail))


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(go_quote(s) for s in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return _cause("FieldValueNotSupported", path,
                  _with_detail(f"Unsupported value: {go_value(value)}", detail))


def go_quote(s: str) -> str:
    """Go's ``%q``: printable runes kept, the rest escaped."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        sign = "-" if exp.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exp.lstrip('+-').rjust(2, '0')}"
    return text


def go_map(value: Any) -> GoRaw:
    """Go's ``%#v`` of a ``map[string]string`` (keys sorted, as fmt prints them)."""
    if not isinstance(value, Mapping):
        return GoRaw("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return GoRaw("map[string]string{" + items + "}")


def go_strings(value: Any) -> GoRaw:
    """Go's ``%#v`` of a ``[]string``."""
    if not isinstance(value, list):
        return GoRaw("[]string(nil)")
    return GoRaw("[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}")


def go_value(value: Any) -> str:
    """Render a bad value the way ``field.Error.ErrorBody`` does."""
    if value is None:
        return "null"
    if isinstance(value, GoRaw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def zero_pruned(value: Any) -> Any:
    """Drop zero values, so dicts compare the way Go's semantic DeepEqual compares structs.

    Go cannot tell a missing field from its zero value (and treats nil and empty
    slices alike); a client that sends ``hostNetwork: false`` has not changed a
    pod whose stored spec lacks the field.
    """
    if isinstance(value, dict):
        pruned = {k: zero_pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", 0, False, [], {})}
    if isinstance(value, list):
        return [zero_pruned(v) for v in value]
    return value


def _diff_lines(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for k in sorted(set(old) | set(new)):
            lines += _diff_lines(old.get(k), new.get(k), child(path, str(k)))
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        lines = []
        for i, (a, b) in enumerate(zip(old, new)):
            lines += _diff_lines(a, b, index(path, i))
        return lines
    if old == new:
        return []
    return [f"- \t{path}: {go_value(old)}", f"+ \t{path}: {go_value(new)}"]


def go_diff(type_name: str, old: Any, new: Any) -> str:
    """Changed leaves as ``-``/``+`` pairs: a readable stand-in for the ``cmp.Diff``
    Kubernetes appends to "may not change" errors."""
    return "\n".join([f"  {type_name}{{", *_diff_lines(old, new, ""), "  }", ""])


def aggregate(causes: list[Cause]) -> str:
    """Join errors as apimachinery's ``ErrorList.ToAggregate().Error()`` does."""
    seen: list[str] = []
    for cause in causes:
        field_name = cause.get("field", "")
        text = f"{field_name}: {cause.get('message', '')}"
        if text not in seen:
            seen.append(text)
    if not seen:
        return "<nil>"
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"
