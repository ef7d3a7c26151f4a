"""Schema-driven decode checks: JSON types and unknown fields, in Kubernetes' words.

Kubernetes decodes a request body into Go structs before anything else runs.
Wrong JSON types fail that decode (``json: cannot unmarshal string into Go
struct field DeploymentSpec.spec.replicas of type int32``) and, under
``fieldValidation=Strict``, fields the struct lacks fail it too (``unknown
field "spec.replicasx"``). This module walks an object against the OpenAPI
definitions from ``apiserver.schema`` and reports both, accepting any JSON
without raising.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field as dc_field
from typing import Any

from apiserver.schema import definition_name, ref_name, resolve, types_of
from apiserver.validation.values import QUANTITY_FORMAT_ERROR, parse_quantity
from machinery.resources import Resource

__all__ = ["check_schema", "drop_unknown_fields", "decode_error_message"]

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_TIMES = {"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "2006-01-02T15:04:05Z07:00",
          "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "2006-01-02T15:04:05.000000Z07:00"}
_RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_INT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}
_B64_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

Schema = dict[str, Any]


def _node_name(node: Schema) -> str | None:
    name = ref_name(node)
    if name is None and isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        name = ref_name(node["allOf"][0])
    return name


def _go_type(node: Schema) -> str:
    """How Go names the type a schema node decodes into."""
    name = _node_name(node)
    if name is not None:
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}" if len(parts) > 1 else name
    resolved = resolve(node)
    kinds = types_of(resolved)
    if "array" in kinds and isinstance(resolved.get("items"), dict):
        return "[]" + _go_type(resolved["items"])
    if "object" in kinds:
        extra = resolved.get("additionalProperties")
        return "map[string]" + _go_type(extra) if isinstance(extra, dict) else \
            "map[string]interface {}"
    if "string" in kinds:
        return "[]uint8" if resolved.get("format") == "byte" else "string"
    if "integer" in kinds:
        return resolved.get("format") or "int64"
    if "number" in kinds:
        return "float64"
    if "boolean" in kinds:
        return "bool"
    return "interface {}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _base64_error(text: str) -> str | None:
    """Where Go's StdEncoding gives up on ``text`` (it skips CR and LF)."""
    positions = [i for i, ch in enumerate(text) if ch not in "\r\n"]
    chars = [text[i] for i in positions]
    for k, ch in enumerate(chars):
        if ch == "=":
            tail = chars[k:]
            if len(chars) % 4 or k % 4 < 2 or any(c != "=" for c in tail) or len(tail) > 2:
                return f"illegal base64 data at input byte {positions[k]}"
            break
        if ch not in _B64_ALPHABET:
            return f"illegal base64 data at input byte {positions[k]}"
    if len(chars) % 4:
        start = len(chars) - len(chars) % 4
        return f"illegal base64 data at input byte {positions[start] if start < len(chars) else 0}"
    try:
        base64.b64decode("".join(chars), validate=True)
    except (binascii.Error, ValueError):
        return "illegal base64 data at input byte 0"
    return None


@dataclass
class _Walk:
    drop: bool
    type_errors: list[str] = dc_field(default_factory=list)
    unknown: list[str] = dc_field(default_factory=list)

    def mismatch(self, what: str, node: Schema, struct: str | None, go_path: str) -> None:
        where = f"Go struct field {struct}.{go_path}" if struct else "Go value"
        self.type_errors.append(f"json: cannot unmarshal {what} into {where} of type "
                                f"{_go_type(node)}")

    def special(self, name: str, value: Any) -> bool:
        """Types with their own UnmarshalJSON, whose errors carry no field context."""
        if name == _QUANTITY:
            if isinstance(value, bool) or parse_quantity(value) is None:
                self.type_errors.append(QUANTITY_FORMAT_ERROR)
            return True
        if name == _INT_OR_STRING:
            if isinstance(value, str):
                return True
            lo, hi = _INT_RANGES["int32"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.type_errors.append(f"json: cannot unmarshal {_json_kind(value)} into Go "
                                        "value of type int32")
            elif isinstance(value, float) and not value.is_integer() or not lo <= value <= hi:
                self.type_errors.append(f"json: cannot unmarshal number {_number_text(value)} "
                                        "into Go value of type int32")
            return True
        if name in _TIMES:
            layout = _TIMES[name]
            if not isinstance(value, str):
                self.type_errors.append(f"json: cannot unmarshal {_json_kind(value)} into Go "
                                        "value of type string")
            elif not _RFC3339_RE.match(value):
                self.type_errors.append(f'parsing time "{value}" as "{layout}": cannot parse '
                                        f'"{value}" as "2006"')
            return True
        return False

    def scalar(self, value: Any, node: Schema, kinds: set[str], struct: str | None,
               go_path: str) -> None:
        if "string" in kinds:
            if not isinstance(value, str):
                self.mismatch(_json_kind(value), node, struct, go_path)
            elif resolve(node).get("format") == "byte":
                problem = _base64_error(value)
                if problem:
                    self.type_errors.append(problem)
        elif "integer" in kinds:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.mismatch(_json_kind(value), node, struct, go_path)
                return
            lo, hi = _INT_RANGES.get(resolve(node).get("format") or "int64", _INT_RANGES["int64"])
            if isinstance(value, float) and not value.is_integer() or not lo <= value <= hi:
                self.mismatch(f"number {_number_text(value)}", node, struct, go_path)
        elif "number" in kinds:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.mismatch(_json_kind(value), node, struct, go_path)
        elif "boolean" in kinds and not isinstance(value, bool):
            self.mismatch(_json_kind(value), node, struct, go_path)

    def walk(self, value: Any, node: Schema, path: str, struct: str | None, go_path: str) -> None:
        if value is None:
            return
        name = _node_name(node)
        if name is not None and self.special(name, value):
            return
        resolved = resolve(node)
        kinds = types_of(resolved)
        props = resolved.get("properties")
        extra = resolved.get("additionalProperties")
        if "object" in kinds and isinstance(props, dict):
            if not isinstance(value, dict):
                self.mismatch(_json_kind(value), node, struct, go_path)
                return
            own = name.rpartition(".")[2] if name else struct
            for key in list(value):
                child_path = f"{path}.{key}" if path else key
                if key not in props:
                    self.unknown.append(child_path)
                    if self.drop:
                        del value[key]
                    continue
                child_go = f"{go_path}.{key}" if go_path else key
                self.walk(value[key], props[key], child_path, own, child_go)
        elif "object" in kinds and isinstance(extra, dict):
            if not isinstance(value, dict):
                self.mismatch(_json_kind(value), node, struct, go_path)
                return
            for key, item in value.items():
                self.walk(item, extra, f"{path}[{key}]", struct, go_path)
        elif "object" in kinds:
            return  # free-form: RawExtension, FieldsV1 and the like
        elif "array" in kinds:
            if not isinstance(value, list):
                self.mismatch(_json_kind(value), node, struct, go_path)
                return
            items = resolved.get("items")
            if isinstance(items, dict):
                for i, item in enumerate(value):
                    self.walk(item, items, f"{path}[{i}]", struct, go_path)
        else:
            self.scalar(value, node, kinds, struct, go_path)


def _walk(resource: Resource, obj: Any, drop: bool) -> _Walk:
    walker = _Walk(drop=drop)
    name = definition_name(resource.group, resource.version, resource.kind)
    if name is not None:
        walker.walk(obj, {"$ref": f"#/$defs/{name}"}, "", None, "")
    return walker


def check_schema(resource: Resource, obj: Any, *,
                 field_validation: str = "Strict") -> tuple[list[str], list[str]]:
    """Decode errors and warnings for ``obj``.

    Like Kubernetes, a type error stops decoding: only the first one is
    reported, and unknown fields are not looked at then. Otherwise unknown
    fields are errors under ``Strict``, warnings under ``Warn``, and silent
    under ``Ignore``.
    """
    walker = _walk(resource, obj, drop=False)
    if walker.type_errors:
        return walker.type_errors[:1], []
    unknown = [f'unknown field "{path}"' for path in walker.unknown]
    if field_validation == "Strict":
        return unknown, []
    if field_validation == "Warn":
        return [], unknown
    return [], []


def drop_unknown_fields(resource: Resource, obj: Any) -> None:
    """Remove fields the schema does not know, as decoding into Go structs does."""
    _walk(resource, obj, drop=True)


def decode_error_message(resource: Resource, errors: list[str]) -> str:
    """The BadRequest message Kubernetes sends for ``check_schema``'s errors."""
    prefix = (f'{resource.kind} in version "{resource.version}" cannot be handled as a '
              f"{resource.kind}: ")
    unknown = [e for e in errors if e.startswith("unknown field ")]
    if unknown and len(unknown) == len(errors):
        return prefix + "strict decoding error: " + ", ".join(unknown)
    return prefix + (errors[0] if errors else "")
