"""JSON Patch (RFC 6902) for ``application/json-patch+json`` requests.

The API server answers like Kubernetes: a body that is not a list of operation
objects cannot be decoded (400 BadRequest); an operation that cannot be
applied -- unknown op, bad pointer, missing path, index out of range, failed
``test`` -- is 422 Invalid; more than 10,000 operations is 413. The patch
runs on a private copy, so a failure half-way leaves the stored object alone.
"""

from __future__ import annotations

from typing import Any

from machinery.errors import BadRequest, Invalid, RequestEntityTooLarge

from .values import MISSING, deep_copy, json_equal

__all__ = ["apply_json_patch", "MAX_OPERATIONS", "parse_pointer"]

MAX_OPERATIONS = 10000
_NEEDS_VALUE = ("add", "replace", "test")
_NEEDS_FROM = ("move", "copy")


def apply_json_patch(obj: dict[str, Any], patch: object) -> dict[str, Any]:
    """Apply the operations in order to a copy of ``obj`` and return the copy."""
    if not isinstance(patch, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in patch:
        if not isinstance(op, dict):
            raise BadRequest("json: cannot unmarshal non-object operation into Go value of type jsonpatch.Operation")
    if len(patch) > MAX_OPERATIONS:
        raise RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch)}")
    try:
        doc: Any = deep_copy(obj)
        for op in patch:
            doc = _apply_one(doc, op)
    except RecursionError:
        raise BadRequest("JSON patch document is nested too deeply") from None
    if not isinstance(doc, dict):
        raise Invalid("the patched document is not a JSON object")
    return doc


def parse_pointer(pointer: object) -> list[str]:
    """Split a JSON pointer (RFC 6901) into unescaped reference tokens."""
    if not isinstance(pointer, str):
        raise Invalid(f"JSON pointer must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise Invalid(f'JSON pointer must be empty or start with a "/": {pointer!r}')
    tokens = pointer[1:].split("/")
    for token in tokens:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise Invalid(f"invalid escape sequence in JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise Invalid(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    if "path" not in op:
        raise Invalid(f"{kind} operation missing path field")
    path = op["path"]
    tokens = parse_pointer(path)
    if kind in _NEEDS_VALUE and "value" not in op:
        raise Invalid(f"{kind} operation missing value field for path {path!r}")
    if kind in _NEEDS_FROM and "from" not in op:
        raise Invalid(f"{kind} operation missing from field for path {path!r}")
    if kind == "add":
        return _add(doc, tokens, deep_copy(op["value"]), path, kind)
    if kind == "remove":
        return _remove(doc, tokens, path, kind)[0]
    if kind == "replace":
        if not tokens:
            return deep_copy(op["value"])
        if _get(doc, tokens, path, kind) is MISSING:
            raise Invalid(f"replace operation does not apply: doc is missing key: {path}")
        doc = _remove(doc, tokens, path, kind)[0]
        return _add(doc, tokens, deep_copy(op["value"]), path, kind)
    if kind == "test":
        current = _get(doc, tokens, path, kind)
        expected = op["value"]
        if current is MISSING and expected is None:
            return doc
        if current is MISSING or not json_equal(current, expected):
            raise Invalid(f"testing value {path} failed: test failed")
        return doc
    source = op["from"]
    from_tokens = parse_pointer(source)
    if kind == "move":
        if from_tokens == tokens:
            if _get(doc, tokens, path, kind) is MISSING:
                raise Invalid(f"move operation does not apply: doc is missing from path: {source}")
            return doc
        if tokens[:len(from_tokens)] == from_tokens:
            raise Invalid(f"move operation does not apply: cannot move {source} into its own child {path}")
        doc, value = _remove(doc, from_tokens, source, kind)
        return _add(doc, tokens, value, path, kind)
    value = _get(doc, from_tokens, source, kind)
    if value is MISSING:
        raise Invalid(f"copy operation does not apply: doc is missing from path: {source}")
    return _add(doc, tokens, deep_copy(value), path, kind)


def _index(token: str, size: int, path: str, kind: str, *, append: bool) -> int:
    """An array index; ``append`` admits ``-`` and ``size`` (the slot after the end)."""
    if append and token == "-":
        return size
    if not token.isdigit() or not token.isascii():
        raise Invalid(f"{kind} operation does not apply: invalid array index {token!r} in {path}")
    index = int(token)
    if index > size or (index == size and not append):
        raise Invalid(f"{kind} operation does not apply: array index {index} out of bounds in {path}")
    return index


def _parent(doc: Any, tokens: list[str], path: str, kind: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise Invalid(f"{kind} operation does not apply: doc is missing path: {path}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), path, kind, append=False)]
        else:
            raise Invalid(f"{kind} operation does not apply: doc is missing path: {path}")
    if not isinstance(node, (dict, list)):
        raise Invalid(f"{kind} operation does not apply: doc is missing path: {path}")
    return node


def _get(doc: Any, tokens: list[str], path: str, kind: str) -> Any:
    """The value at the pointer, or MISSING when only the last step is absent."""
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path, kind)
    last = tokens[-1]
    if isinstance(parent, dict):
        return parent.get(last, MISSING)
    if last == "-" or not last.isdigit() or int(last) >= len(parent):
        return MISSING
    return parent[int(last)]


def _add(doc: Any, tokens: list[str], value: Any, path: str, kind: str) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, path, kind)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_index(last, len(parent), path, kind, append=True), value)
    return doc


def _remove(doc: Any, tokens: list[str], path: str, kind: str) -> tuple[Any, Any]:
    if not tokens:
        raise Invalid(f"{kind} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, tokens, path, kind)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise Invalid(f"{kind} operation does not apply: doc is missing key: {path}")
        return doc, parent.pop(last)
    return doc, parent.pop(_index(last, len(parent), path, kind, append=False))
