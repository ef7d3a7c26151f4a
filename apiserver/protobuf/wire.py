"""The protocol-buffers wire format, read and written without any schema.

A message is a sequence of ``(field number, wire type, value)`` records:
varints (type 0), fixed 64-bit words (type 1), length-delimited bytes
(type 2) and fixed 32-bit words (type 5). Kubernetes' generated code never
uses zigzag (``sint``) encodings or groups, so a negative ``int32``/``int64``
arrives as a ten-byte two's-complement varint and is re-signed by the caller
that knows the field's type. Everything here works on ``bytes`` and raises
:class:`ProtobufError` on truncated or malformed input, so a bad request body
becomes a 400 rather than an exception escaping the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

__all__ = [
    "VARINT",
    "FIXED64",
    "BYTES",
    "FIXED32",
    "ProtobufError",
    "Record",
    "read_varint",
    "iter_records",
    "to_signed",
    "encode_varint",
    "encode_record",
]

VARINT = 0
FIXED64 = 1
BYTES = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10


class ProtobufError(ValueError):
    """The bytes are not a well-formed protocol-buffers message."""


class Record(NamedTuple):
    """One field occurrence: an ``int`` for varint/fixed types, ``bytes`` for type 2."""

    number: int
    wire_type: int
    value: int | bytes


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return result, pos
    raise ProtobufError("varint longer than 10 bytes")


def iter_records(data: bytes) -> Iterator[Record]:
    """Every field record of one message, in wire order."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0 is not allowed")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield Record(number, wire_type, value)
        elif wire_type in (FIXED64, FIXED32):
            width = 8 if wire_type == FIXED64 else 4
            if pos + width > end:
                raise ProtobufError(f"truncated fixed{width * 8} field {number}")
            yield Record(number, wire_type, int.from_bytes(data[pos:pos + width], "little"))
            pos += width
        elif wire_type == BYTES:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise ProtobufError(f"field {number} claims {length} bytes but only {end - pos} remain")
            yield Record(number, wire_type, bytes(data[pos:pos + length]))
            pos += length
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} for field {number}")


def to_signed(value: int, bits: int = 64) -> int:
    """Reinterpret an unsigned varint as the two's-complement signed integer Go wrote."""
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    return value


def encode_varint(value: int) -> bytes:
    """A varint; negative numbers take ten bytes as Go's ``int32``/``int64`` marshalling does."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_record(number: int, value: int | bytes) -> bytes:
    """One field: an ``int`` as a varint, ``bytes`` as length-delimited."""
    if isinstance(value, bytes):
        return encode_varint(number << 3 | BYTES) + encode_varint(len(value)) + value
    return encode_varint(number << 3 | VARINT) + encode_varint(value)
