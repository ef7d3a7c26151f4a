"""Turn a protobuf message into the JSON dict the same Go object would marshal to.

A message table maps each field number to ``(JSON name, type)``, where the
type is written the way the Go field is declared:

* scalars ``string``, ``int32``, ``int64``, ``bool``, ``bytes``, ``double``;
* a message name (``ObjectMeta``), resolved in the table registry;
* the apimachinery wrappers ``Time``, ``MicroTime``, ``Duration``,
  ``Quantity``, ``IntOrString`` and ``RawExtension``, which marshal to
  JSON scalars or embedded documents rather than objects;
* ``[]T`` for repeated fields and ``map[string]T`` for maps;
* an empty JSON name embeds a message whose fields JSON inlines into the
  parent (Go's embedded structs, such as ``IngressRule.IngressRuleValue``);
* a leading ``*`` marks a scalar that JSON shows even when it is zero (a Go
  pointer such as ``replicas``, or a field without ``omitempty`` such as
  ``containerPort``).

Why the ``*``: Go's protobuf marshaller writes every non-pointer scalar, zero
or not, while ``encoding/json`` drops zero values of ``omitempty`` fields.
Dropping them here gives the server exactly the dict kubectl would have sent
as JSON, so defaulting and validation cannot tell the two encodings apart.
Nested messages appear in JSON whenever they are on the wire (Go marshals a
struct even when empty), and a zero ``Time`` becomes ``null`` as it does in
Go. A field number missing from a table is skipped when its value is zero
or a message of zeros (Go always writes those) and refused otherwise, so a
value is never lost.
"""

from __future__ import annotations

import base64
import datetime
import functools
import struct
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from .wire import BYTES, FIXED64, VARINT, ProtobufError, Record, iter_records, read_varint, to_signed

__all__ = [
    "Message",
    "UnsupportedProtobuf",
    "FieldType",
    "parse_type",
    "decode_message",
    "WRAPPERS",
    "SCALARS",
]

# field number -> (JSON name, Go-like type)
Message = Mapping[int, tuple[str, str]]

SCALARS = frozenset({"string", "int32", "int64", "bool", "bytes", "double"})
WRAPPERS = frozenset({"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension"})


class UnsupportedProtobuf(ProtobufError):
    """Well-formed protobuf that this server has no table for (answered with 415)."""


class FieldType(NamedTuple):
    """A parsed type string: its base type and how it repeats."""

    base: str
    repeated: bool = False
    map: bool = False
    keep_zero: bool = False


@functools.cache
def parse_type(spec: str) -> FieldType:
    """Parse ``*int32``, ``[]Container``, ``map[string]Quantity`` and plain names."""
    keep = spec.startswith("*")
    rest = spec[1:] if keep else spec
    if rest.startswith("[]"):
        return FieldType(rest[2:], repeated=True, keep_zero=keep)
    if rest.startswith("map[string]"):
        return FieldType(rest[len("map[string]"):], map=True, keep_zero=keep)
    return FieldType(rest, keep_zero=keep)


def _require(record: Record, wire_type: int, what: str) -> None:
    if record.wire_type != wire_type:
        raise ProtobufError(f"field {record.number} ({what}) has wire type {record.wire_type}, "
                            f"expected {wire_type}")


def _bytes(record: Record, what: str) -> bytes:
    _require(record, BYTES, what)
    assert isinstance(record.value, bytes)
    return record.value


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"string field is not valid UTF-8: {exc}") from None


def _fields(data: bytes) -> dict[int, Record]:
    return {r.number: r for r in iter_records(data)}


def _int(data: bytes, number: int) -> int:
    rec = _fields(data).get(number)
    return 0 if rec is None or not isinstance(rec.value, int) else rec.value


def _str(data: bytes, number: int) -> str:
    rec = _fields(data).get(number)
    return "" if rec is None or not isinstance(rec.value, bytes) else _utf8(rec.value)


def _time(data: bytes, micro: bool) -> str | None:
    """``Time``/``MicroTime``: seconds (1) and nanos (2) since the epoch, RFC 3339 in JSON."""
    seconds, nanos = to_signed(_int(data, 1)), to_signed(_int(data, 2), 32)
    if seconds == 0 and nanos == 0:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError(f"timestamp {seconds} is out of range") from None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{nanos // 1000:06d}Z" if micro else f"{text}Z"


_DURATION_UNITS = (("h", 3600 * 10**9), ("m", 60 * 10**9))


def _duration(nanos: int) -> str:
    """Go's ``time.Duration.String()`` for whole and fractional seconds (``1h2m3.5s``)."""
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(nanos, size) + unit
    out = ""
    for unit, size in _DURATION_UNITS:
        if nanos >= size or out:
            out += f"{nanos // size}{unit}"
            nanos %= size
    return sign + out + _trim(nanos, 10**9) + "s"


def _trim(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _int_or_string(data: bytes) -> int | str:
    """``IntOrString``: type (1) selects intVal (2) or strVal (3)."""
    return _str(data, 3) if _int(data, 1) == 1 else to_signed(_int(data, 2), 32)


def _raw_extension(data: bytes) -> Any:
    """``RawExtension``: raw (1) holds the embedded object, which kubectl writes as JSON."""
    rec = _fields(data).get(1)
    raw = rec.value if rec is not None and isinstance(rec.value, bytes) else b""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UnsupportedProtobuf("an embedded object (RawExtension) is not JSON") from None


_WRAPPER_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "Time": lambda data: _time(data, micro=False),
    "MicroTime": lambda data: _time(data, micro=True),
    "Duration": lambda data: _duration(to_signed(_int(data, 1))),
    "Quantity": lambda data: _str(data, 1),
    "IntOrString": _int_or_string,
    "RawExtension": _raw_extension,
}


def _scalar(base: str, record: Record) -> Any:
    if base in ("string", "bytes"):
        data = _bytes(record, base)
        return _utf8(data) if base == "string" else base64.b64encode(data).decode()
    if base == "double":
        _require(record, FIXED64, base)
        assert isinstance(record.value, int)
        return struct.unpack("<d", record.value.to_bytes(8, "little"))[0]
    _require(record, VARINT, base)
    assert isinstance(record.value, int)
    if base == "bool":
        return record.value != 0
    return to_signed(record.value, 32 if base == "int32" else 64)


class _Decoder:
    """Decodes messages by name against a registry of tables."""

    def __init__(self, tables: Mapping[str, Message]) -> None:
        self.tables = tables

    def value(self, base: str, record: Record) -> Any:
        """One occurrence of a field of type ``base`` (no repetition, no maps)."""
        if base in SCALARS:
            return _scalar(base, record)
        data = _bytes(record, base)
        if base in _WRAPPER_DECODERS:
            return _WRAPPER_DECODERS[base](data)
        return self.message(base, data)

    def _repeated(self, base: str, record: Record) -> list[Any]:
        # proto2 repeated numbers are unpacked, but accept the packed form too.
        if base in ("int32", "int64", "bool") and record.wire_type == BYTES:
            return [self.value(base, item) for item in _packed_varints(record.number, _bytes(record, base))]
        return [self.value(base, record)]

    def _map_entry(self, base: str, record: Record) -> tuple[str, Any]:
        key, value = "", _zero_of(base)
        for rec in iter_records(_bytes(record, "map entry")):
            if rec.number == 1:
                key = _scalar("string", rec)
            elif rec.number == 2:
                value = self.value(base, rec)
        return key, value

    def message(self, name: str, data: bytes) -> dict[str, Any]:
        table = self.tables.get(name)
        if table is None:
            raise UnsupportedProtobuf(f"no protobuf table for message {name}")
        out: dict[str, Any] = {}
        for record in iter_records(data):
            entry = table.get(record.number)
            if entry is None:
                if _all_zero(record.value):
                    continue
                raise UnsupportedProtobuf(
                    f"{name} field {record.number} is not supported in protobuf; send JSON instead")
            json_name, spec = entry
            ftype = parse_type(spec)
            if ftype.map:
                key, value = self._map_entry(ftype.base, record)
                out.setdefault(json_name, {})[key] = value
            elif ftype.repeated:
                out.setdefault(json_name, []).extend(self._repeated(ftype.base, record))
            elif not json_name:
                out.update(self.message(ftype.base, _bytes(record, ftype.base)))
            else:
                value = self.value(ftype.base, record)
                if ftype.base in SCALARS and not ftype.keep_zero and not value:
                    out.pop(json_name, None)
                else:
                    out[json_name] = value
        return out


def _all_zero(value: int | bytes) -> bool:
    """A zero number, empty bytes, or a message of nothing but zeros (Go writes those for unset structs)."""
    if not value:
        return True
    if isinstance(value, int):
        return False
    try:
        return all(_all_zero(record.value) for record in iter_records(value))
    except ProtobufError:
        return False


def _packed_varints(number: int, data: bytes) -> list[Record]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        values.append(Record(number, VARINT, value))
    return values


def _zero_of(base: str) -> Any:
    """A map value that was left off the wire: the Go zero value as JSON shows it."""
    return {"string": "", "bytes": "", "int32": 0, "int64": 0, "bool": False, "double": 0.0}.get(base, {})


def decode_message(tables: Mapping[str, Message], name: str, data: bytes) -> dict[str, Any]:
    """Decode ``data`` as message ``name`` of ``tables``."""
    return _Decoder(tables).message(name, data)
