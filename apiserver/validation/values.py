"""Tolerant readers for JSON values, plus quantities and int-or-percent values.

Go decodes ``null`` and missing fields to zero values, and validation code is
written against those zero values. These readers give the same view of an
arbitrary dict (``None``, wrong types and all) so validators never raise on
input the type check let through or never saw.

The quantity parser is deliberately private and minimal: it only needs to
accept what Kubernetes accepts and compare magnitudes.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from apiserver.validation import field
from apiserver.validation.field import Cause

__all__ = [
    "as_dict",
    "as_list",
    "as_str",
    "as_int",
    "is_int",
    "dicts",
    "parse_quantity",
    "quantity_text",
    "QUANTITY_FORMAT_ERROR",
    "int_or_percent",
    "nonnegative",
    "IS_NEGATIVE",
]

IS_NEGATIVE = "must be greater than or equal to 0"
QUANTITY_FORMAT_ERROR = ("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: Any) -> int | None:
    """An integer field's value, or None when unset (Go's nil pointer)."""
    if is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def dicts(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """Index and item of each dict in a list; other items read as empty structs."""
    return [(i, item if isinstance(item, dict) else {}) for i, item in enumerate(as_list(value))]


_QUANTITY_RE = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_BINARY: dict[str, Fraction] = {
    suffix: Fraction(2) ** (10 * power)
    for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)}
_DECIMAL: dict[str, Fraction] = {
    "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000),
    "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9),
    "T": Fraction(10 ** 12), "P": Fraction(10 ** 15), "E": Fraction(10 ** 18)}


def parse_quantity(value: Any) -> Fraction | None:
    """The exact magnitude of a quantity (string or JSON number), None if unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value) if value == value and abs(value) != float("inf") else None
    if not isinstance(value, str):
        return None
    m = _QUANTITY_RE.match(value.strip())
    if not m:
        return None
    number = Fraction(m.group(1))
    suffix = m.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        exponent = int(suffix[1:])
        if abs(exponent) > 1000:
            return None
        return number * Fraction(10) ** exponent
    return number


def quantity_text(value: Any) -> str:
    """How a quantity reads in messages (the value as the user wrote it)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_PERCENT_RE = re.compile(r"^[0-9]+%$")


def int_or_percent(value: Any) -> int:
    """The number an IntOrString stands for (percent strings give their percentage)."""
    if is_int(value):
        return int(value)
    if isinstance(value, str):
        if _PERCENT_RE.match(value):
            return int(value[:-1])
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def nonnegative(value: Any, path: str) -> list[Cause]:
    number = as_int(value)
    if number is not None and number < 0:
        return [field.invalid(path, number, IS_NEGATIVE)]
    return []
