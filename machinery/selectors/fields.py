"""Field selectors: the ``?fieldSelector=`` grammar of ``k8s.io/apimachinery/pkg/fields``.

Which fields a kind exposes is the API server's business; this module only
parses, prints and matches against a flat ``{"spec.nodeName": ...}`` map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from machinery import errors

__all__ = ["FieldSelector", "parse_field_selector", "escape_field_value"]


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so the value survives a field selector string."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(raw: str) -> str:
    out: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt is None or nxt not in "\\,=":
                seq = "\\" + (nxt or "")
                raise errors.BadRequest(f"invalid field selector: invalid escape sequence: {seq}")
            out.append(nxt)
        elif ch in ",=":
            raise errors.BadRequest(f"invalid field selector: unescaped character in value: {ch}")
        else:
            out.append(ch)
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` terms.

    A field missing from the object's field set compares as "", as in
    Kubernetes' ``fields.Set.Get``.
    """

    terms: tuple[tuple[str, str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def requirements(self) -> list[tuple[str, str, str]]:
        return list(self.terms)

    def requires_exact_match(self, name: str) -> str | None:
        """The value ``name`` must equal, if the selector pins it (index lookups)."""
        for f, op, value in self.terms:
            if f == name and op == "=":
                return value
        return None

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all((fields.get(f, "") == value) == (op == "=") for f, op, value in self.terms)

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in self.terms)


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse a ``?fieldSelector=`` string as ``fields.ParseSelector`` does.

    ``==`` is normalised to ``=``; terms are kept in the sorted order
    Kubernetes gives them; no whitespace is trimmed. Raises BadRequest.
    """
    if not text:
        return FieldSelector()
    terms: list[tuple[str, str, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        match = re.search(r"!=|==|=", part)
        if match is None:
            raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        op = "!=" if match.group() == "!=" else "="
        terms.append((part[:match.start()], op, _unescape_field_value(part[match.end():])))
    return FieldSelector(tuple(terms))
