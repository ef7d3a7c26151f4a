"""kubectl's JSONPath templates (``-o jsonpath=...`` and ``custom-columns``).

kubectl's dialect is a template: literal text with ``{...}`` actions.  An action
holds a path (``.a.b``, ``.items[*].metadata.name``, ``[0]``, ``[-1]``,
``[1:3]``, ``['dotted.key']``, ``..name`` recursive descent, ``[?(@.type=="Ready")]``
filters), a string literal (``{"\\n"}``), or ``range PATH`` ... ``end``.  Several
results of one action print space-separated; maps and lists print as JSON;
missing keys print nothing, as ``--allow-missing-template-keys`` (kubectl's
default) asks.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any, Union

from cli.errors import CliError

__all__ = ["JsonPathError", "Template", "parse", "render", "evaluate", "format_value"]


class JsonPathError(CliError):
    """A template that does not parse."""


# -- syntax tree ---------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str          # "*" means every value of a map


@dataclass(frozen=True)
class Recursive:
    name: str          # ``..name``; "*" collects every descendant


@dataclass(frozen=True)
class Index:
    indices: tuple[int | str, ...]   # ints index lists; strs are quoted keys (unions)


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Filter:
    path: Path
    op: str | None     # None: the path merely has to exist
    value: Any = None


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]
    absolute: bool = False   # ``$``: from the root rather than the current element


Step = Union[Field, Recursive, Index, Slice, Filter]


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass
class Range:
    path: Path
    body: list[Node] = field(default_factory=list)


Node = Union[Literal, Path, Range]
Template = list[Node]

# -- parsing -------------------------------------------------------------------

_IDENT = re.compile(r"(?:[A-Za-z0-9_\-$/:@]|\\.)+|\*")
_OPS = ("==", "!=", "<=", ">=", "<", ">", "=~")
_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _unquote(text: str) -> str:
    """Interpret backslash escapes the way Go's strconv.Unquote does for common ones."""
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text)


class _PathParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> JsonPathError:
        return JsonPathError(f"error parsing jsonpath {self.text}, {why}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def path(self, stop: str = "") -> Path:
        absolute = False
        if self.peek() == "$":
            absolute = True
            self.pos += 1
        elif self.peek() == "@":
            self.pos += 1
        steps: list[Step] = []
        while self.pos < len(self.text) and self.peek() not in stop:
            ch = self.peek()
            if self.peek(2) == "..":
                self.pos += 2
                steps.append(Recursive(self._ident()))
            elif ch == ".":
                self.pos += 1
                if self.pos < len(self.text) and self.peek() not in ".[" + stop:
                    steps.append(Field(self._ident()))
            elif ch == "[":
                steps.append(self._bracket())
            elif ch.isspace():
                break
            elif not steps and _IDENT.match(self.text, self.pos):
                steps.append(Field(self._ident()))
            else:
                raise self.fail(f"unrecognized character in action: {ch!r}")
        return Path(tuple(steps), absolute)

    def _ident(self) -> str:
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise self.fail(f"expected a field name at {self.text[self.pos:]!r}")
        self.pos = match.end()
        return re.sub(r"\\(.)", r"\1", match.group(0))

    def _bracket(self) -> Step:
        end = self._matching(self.pos)
        inner = self.text[self.pos + 1:end].strip()
        self.pos = end + 1
        if inner.startswith("?(") and inner.endswith(")"):
            return self._filter(inner[2:-1].strip())
        if inner == "*":
            return Field("*")
        if ":" in inner and not inner.startswith(("'", '"')):
            parts = [p.strip() for p in inner.split(":")]
            if len(parts) > 3:
                raise self.fail(f"invalid slice [{inner}]")
            nums = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
            return Slice(nums[0], nums[1], nums[2])
        items: list[int | str] = []
        for part in (p.strip() for p in inner.split(",")):
            if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
                items.append(_unquote(part[1:-1]))
            elif re.fullmatch(r"-?\d+", part):
                items.append(int(part))
            else:
                raise self.fail(f"invalid array index {part!r}")
        return Index(tuple(items))

    def _matching(self, start: int) -> int:
        depth, quote = 0, ""
        for i in range(start, len(self.text)):
            ch = self.text[i]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    return i
        raise self.fail("unterminated array")

    def _filter(self, expr: str) -> Filter:
        sub = _PathParser(expr)
        left = sub.path(stop="=!<>~ ")
        rest = expr[sub.pos:].strip()
        if not rest:
            return Filter(left, None)
        op = next((o for o in _OPS if rest.startswith(o)), None)
        if op is None:
            raise self.fail(f"unrecognized filter operator in {expr!r}")
        raw = rest[len(op):].strip()
        value: Any
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            value = _unquote(raw[1:-1])
        elif _NUMBER.fullmatch(raw):
            value = float(raw) if "." in raw else int(raw)
        elif raw in ("true", "false"):
            value = raw == "true"
        elif raw.startswith(("@", "$", ".")):
            value = _PathParser(raw).path()
        else:
            raise self.fail(f"unrecognized filter value {raw!r}")
        return Filter(left, op, value)


def _split_template(template: str) -> list[tuple[bool, str]]:
    """(is_action, text) pieces; braces inside quoted literals do not count."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            pieces.append((False, template[pos:]))
            break
        if start > pos:
            pieces.append((False, template[pos:start]))
        i, quote = start + 1, ""
        while i < len(template):
            ch = template[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "}":
                break
            i += 1
        if i >= len(template):
            raise JsonPathError(f"error parsing jsonpath {template}, unclosed action")
        pieces.append((True, template[start + 1:i].strip()))
        pos = i + 1
    return pieces


def parse(template: str) -> Template:
    root: Template = []
    stack: list[Template] = [root]
    for is_action, text in _split_template(template):
        if not is_action:
            stack[-1].append(Literal(text))
        elif text == "end":
            if len(stack) == 1:
                raise JsonPathError(f"error parsing jsonpath {template}, not in range, nothing to end")
            stack.pop()
        elif text.startswith("range ") or text == "range":
            node = Range(_PathParser(text[5:].strip()).path())
            stack[-1].append(node)
            stack.append(node.body)
        elif len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            stack[-1].append(Literal(_unquote(text[1:-1])))
        elif text:
            parser = _PathParser(text)
            path = parser.path()
            if parser.pos != len(text):
                raise parser.fail(f"unrecognized character in action: {text[parser.pos]!r}")
            stack[-1].append(path)
    if len(stack) != 1:
        raise JsonPathError(f"error parsing jsonpath {template}, range without end")
    return root


# -- evaluation ----------------------------------------------------------------


def _descend(value: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if name == "*" or key == name:
                found.append(child)
            found.extend(_descend(child, name))
    elif isinstance(value, list):
        for child in value:
            found.extend(_descend(child, name))
    return found


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=~":
        return isinstance(left, str) and isinstance(right, str) and re.search(right, left) is not None
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if op in ("==", "!="):
        equal = left == right if numeric else format_value(left) == format_value(right)
        return equal if op == "==" else not equal
    if not numeric and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return bool(_ORDER[op](left, right))


def _step(values: list[Any], step: Step, root: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(step, Field):
            if step.name == "*":
                out.extend(value.values() if isinstance(value, dict)
                           else value if isinstance(value, list) else [])
            elif isinstance(value, dict) and step.name in value:
                out.append(value[step.name])
        elif isinstance(step, Recursive):
            out.extend(_descend(value, step.name))
        elif isinstance(step, Index):
            for index in step.indices:
                if isinstance(index, str):
                    if isinstance(value, dict) and index in value:
                        out.append(value[index])
                elif isinstance(value, list) and -len(value) <= index < len(value):
                    out.append(value[index])
        elif isinstance(step, Slice):
            if isinstance(value, list):
                out.extend(value[step.start:step.stop:step.step])
        elif isinstance(step, Filter) and isinstance(value, list):
            out.extend(item for item in value if _keep(item, step, root))
    return out


def _keep(item: Any, cond: Filter, root: Any) -> bool:
    lefts = evaluate(cond.path, item, root)
    if cond.op is None:
        return bool(lefts)
    rights = evaluate(cond.value, item, root) if isinstance(cond.value, Path) else [cond.value]
    return any(_compare(left, cond.op, right) for left in lefts for right in rights)


def evaluate(path: Path, current: Any, root: Any | None = None) -> list[Any]:
    """Every value ``path`` selects, starting at ``current`` (``$`` paths at ``root``)."""
    values = [root if path.absolute and root is not None else current]
    for step in path.steps:
        values = _step(values, step, root if root is not None else current)
    return values


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _render(nodes: Template, current: Any, root: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Literal):
            out.append(node.text)
        elif isinstance(node, Path):
            out.append(" ".join(format_value(v) for v in evaluate(node, current, root)))
        else:
            for item in evaluate(node.path, current, root):
                _render(node.body, item, root, out)


def render(template: str | Template, data: Any) -> str:
    nodes = parse(template) if isinstance(template, str) else template
    out: list[str] = []
    _render(nodes, data, data, out)
    return "".join(out)
