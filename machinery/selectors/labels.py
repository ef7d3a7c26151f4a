"""Label selectors: the ``?labelSelector=`` grammar and metav1.LabelSelector.

Follows ``k8s.io/apimachinery/pkg/labels`` (lexer, parser, requirement
validation, string form) and ``metav1.LabelSelectorAsSelector``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from machinery import errors
from machinery.selectors.names import field_error, is_qualified_name, is_valid_label_value

__all__ = [
    "Operator",
    "Requirement",
    "LabelSelector",
    "parse_label_selector",
    "label_selector_from_dict",
    "label_selector_from_set",
    "selector_to_string",
    "format_label_selector",
]


class Operator(StrEnum):
    """Requirement operators, spelled as apimachinery's ``selection.Operator``."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GT = "gt"
    LT = "lt"


_SET_OPS = (Operator.IN, Operator.NOT_IN)
_EXACT_OPS = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)
_NUMERIC_OPS = (Operator.GT, Operator.LT)
_INT64 = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; build through :meth:`new` to get validation."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()
    _set: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_set", frozenset(self.values))

    @classmethod
    def new(cls, key: str, operator: Operator | str, values: tuple[str, ...] | list[str] = (),
            path: str = "") -> Requirement:
        """Validate like ``labels.NewRequirement``; raises ValueError with its message."""
        op = Operator(operator)
        vals = tuple(values)
        prefix = f"{path}." if path else ""
        errs: list[str] = []
        key_errs = is_qualified_name(key)
        if key_errs:
            errs.append(field_error(prefix + "key", key, "; ".join(key_errs)))
        vpath = prefix + "values"
        if op in _SET_OPS and not vals:
            errs.append(field_error(vpath, list(vals), "for 'in', 'notin' operators, values set can't be empty"))
        elif op in _EXACT_OPS and len(vals) != 1:
            errs.append(field_error(vpath, list(vals), "exact-match compatibility requires one single value"))
        elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
            errs.append(field_error(vpath, list(vals), "values set must be empty for exists and does not exist"))
        elif op in _NUMERIC_OPS:
            if len(vals) != 1:
                errs.append(field_error(vpath, list(vals),
                                     "for 'Gt', 'Lt' operators, exactly one value is required"))
            errs.extend(field_error(f"{vpath}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                        for i, v in enumerate(vals) if not _INT64.match(v))
        for i, v in enumerate(vals):
            val_errs = is_valid_label_value(v)
            if val_errs:
                errs.append(field_error(f"{vpath}[{i}][{key}]", v, "; ".join(val_errs)))
        if errs:
            raise ValueError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
        return cls(key, op, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if op in _EXACT_OPS or op in _SET_OPS:
            if value is None:
                return op is Operator.NOT_EQUALS or op is Operator.NOT_IN
            return (value in self._set) != (op is Operator.NOT_EQUALS or op is Operator.NOT_IN)
        if value is None or not _INT64.match(value):
            return False
        have, want = int(value), int(self.values[0])
        return have > want if op is Operator.GT else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(sorted(self.values)) if len(self.values) > 1 else self.values[0]
        if op in _SET_OPS:
            return f"{self.key} {op.value} ({joined})"
        symbol = {Operator.GT: ">", Operator.LT: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{joined}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements, sorted by key as Kubernetes keeps them.

    ``nothing=True`` is ``labels.Nothing()``: it matches no object, is not
    ``empty`` and prints as "" (it has no string form; callers that need one
    must special-case it).
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def none(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        have = labels if labels is not None else {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have (``=``, ``==`` or a one-value ``in``), else None.

        Schedulers and controllers use it to narrow a search by index before
        matching the whole selector.
        """
        for r in self.requirements:
            if r.key == key and len(r.values) == 1 and r.operator in (
                    Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
                return r.values[0]
        return None

    def exact_matches(self) -> dict[str, str]:
        """Every ``key=value`` pair an object must carry to match."""
        out: dict[str, str] = {}
        for r in self.requirements:
            value = self.requires_exact_match(r.key)
            if value is not None:
                out[r.key] = value
        return out

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _sorted_selector(reqs: list[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),<>"
_IDENT, _END = "identifier", "end"
_KEYWORDS = {"in": Operator.IN, "notin": Operator.NOT_IN}
_BINARY_OPS = {"in": Operator.IN, "notin": Operator.NOT_IN, "=": Operator.EQUALS,
               "==": Operator.DOUBLE_EQUALS, "!=": Operator.NOT_EQUALS, ">": Operator.GT,
               "<": Operator.LT}
_EXPECTED_OPS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); kind is the literal for symbols and keywords."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            two = text[i:i + 2]
            lit = two if two in ("!=", "==") else ch
            tokens.append((lit, lit))
            i += len(lit)
        else:
            j = i
            while j < n and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            tokens.append((word if word in _KEYWORDS else _IDENT, word))
            i = j
    tokens.append((_END, ""))
    return tokens


class _LabelParser:
    """Recursive descent over the token list, following apimachinery's Parser."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, as_value: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        return (_IDENT if as_value and kind in _KEYWORDS else kind), lit

    def take(self, as_value: bool = True) -> tuple[str, str]:
        tok = self.peek(as_value)
        if tok[0] != _END:
            self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == _END:
                return reqs
            if kind not in (_IDENT, "!"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except ValueError as exc:
                raise ValueError(f"unable to parse requirement: {exc}") from None
            kind, lit = self.take()
            if kind == _END:
                return reqs
            if kind != ",":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (_IDENT, "!"):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        kind, key = self.take()
        negated = kind == "!"
        if negated:
            kind, key = self.take()
        if kind != _IDENT:
            raise ValueError(f"found '{key}', expected: identifier")
        key_errs = is_qualified_name(key)
        if key_errs:
            raise ValueError(field_error("key", key, "; ".join(key_errs)))
        if negated:
            return Requirement.new(key, Operator.DOES_NOT_EXIST)
        if self.peek()[0] in (_END, ","):
            return Requirement.new(key, Operator.EXISTS)
        kind, lit = self.take(as_value=False)
        op = _BINARY_OPS.get(kind)
        if op is None:
            raise ValueError(f"found '{lit}', expected: {_EXPECTED_OPS}")
        values = self.set_values() if op in _SET_OPS else self.exact_value()
        return Requirement.new(key, op, values)

    def exact_value(self) -> list[str]:
        kind, lit = self.peek()
        if kind in (_END, ","):
            return [""]
        self.take()
        if kind != _IDENT:
            raise ValueError(f"found '{lit}', expected: identifier")
        return [lit]

    def set_values(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        values: set[str] = set()
        while True:
            kind, lit = self.peek()
            if kind == _IDENT:
                self.take()
                values.add(lit)
                kind, lit = self.peek()
            elif kind in (",", ")"):
                values.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
            if kind == ")":
                self.take()
                return sorted(values)
            if kind != ",":
                raise ValueError(f"found '{lit}', expected: ',' or ')'")
            self.take()


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``?labelSelector=`` string; None or blank selects everything.

    Raises :class:`errors.BadRequest` with apimachinery's message on bad input.
    """
    if text is None or not text.strip():
        return LabelSelector()
    try:
        return _sorted_selector(_LabelParser(text).parse())
    except ValueError as exc:
        raise errors.BadRequest(str(exc)) from None


def _set_requirements(labels: Mapping[str, Any], path: str) -> list[Requirement]:
    reqs = []
    for key, value in labels.items():
        if not isinstance(value, str):
            raise ValueError(field_error(f"{path}[{key}]", value, "must be a string"))
        reqs.append(Requirement.new(str(key), Operator.EQUALS, (value,), path))
    return reqs


def label_selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """``key=value`` for every pair (a Service's or RC's ``spec.selector``).

    An empty or absent map selects everything, as ``labels.SelectorFromSet``.
    """
    try:
        return _sorted_selector(_set_requirements(labels or {}, "selector"))
    except ValueError as exc:
        raise errors.Invalid(str(exc)) from None


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector: ``None`` matches nothing, ``{}`` everything.

    That asymmetry is Kubernetes' (``LabelSelectorAsSelector``): a workload
    without a selector must not adopt every pod, while an explicit empty one
    means "all". Raises :class:`errors.Invalid` on bad keys, values or operators.
    """
    if sel is None:
        return LabelSelector.none()
    if not isinstance(sel, Mapping):
        raise errors.Invalid(f"label selector must be an object, got {type(sel).__name__}")
    try:
        reqs = _set_requirements(sel.get("matchLabels") or {}, "matchLabels")
        for i, expr in enumerate(sel.get("matchExpressions") or []):
            path = f"matchExpressions[{i}]"
            if not isinstance(expr, Mapping):
                raise ValueError(f"{path}: must be an object")
            raw_op = str(expr.get("operator", ""))
            op = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
                  "DoesNotExist": Operator.DOES_NOT_EXIST}.get(raw_op)
            if op is None:
                raise ValueError(f'"{raw_op}" is not a valid label selector operator')
            values = expr.get("values") or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(field_error(path + ".values", values, "must be a list of strings"))
            reqs.append(Requirement.new(str(expr.get("key", "")), op, values, path))
    except ValueError as exc:
        raise errors.Invalid(str(exc)) from None
    return _sorted_selector(reqs)


def selector_to_string(sel: Mapping[str, Any]) -> str:
    """The ``?labelSelector=`` form of a metav1.LabelSelector ("" selects all)."""
    return str(label_selector_from_dict(sel))


def format_label_selector(sel: Mapping[str, Any] | None) -> str:
    """What kubectl prints in a SELECTOR column: ``<none>`` or ``<error>`` as it does."""
    try:
        text = str(label_selector_from_dict(sel))
    except errors.Invalid:
        return "<error>"
    return text or "<none>"
