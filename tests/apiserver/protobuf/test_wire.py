"""The schema-less protobuf wire reader: varints, fixed words, length-delimited fields, errors."""

from __future__ import annotations

import pytest

from apiserver.protobuf.wire import (
    BYTES,
    FIXED32,
    FIXED64,
    VARINT,
    ProtobufError,
    Record,
    encode_record,
    encode_varint,
    iter_records,
    read_varint,
    to_signed,
)


@pytest.mark.parametrize("value, encoded", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
    (8080, b"\x90\x3f"), (2**63 - 1, b"\xff" * 8 + b"\x7f"),
])
def test_varints_round_trip(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert read_varint(encoded + b"rest", 0) == (value, len(encoded))


def test_negative_numbers_take_ten_bytes_and_re_sign() -> None:
    encoded = encode_varint(-1)
    assert encoded == b"\xff" * 9 + b"\x01"
    raw, _ = read_varint(encoded, 0)
    assert to_signed(raw) == -1
    assert to_signed(raw, 32) == -1
    assert to_signed(encode_and_read(-2**31), 32) == -2**31


def encode_and_read(value: int) -> int:
    return read_varint(encode_varint(value), 0)[0]


def test_records_of_every_wire_type() -> None:
    data = (encode_record(1, 150) + encode_record(2, b"hi")
            + bytes([3 << 3 | FIXED64]) + (7).to_bytes(8, "little")
            + bytes([4 << 3 | FIXED32]) + (9).to_bytes(4, "little"))
    assert list(iter_records(data)) == [
        Record(1, VARINT, 150), Record(2, BYTES, b"hi"), Record(3, FIXED64, 7), Record(4, FIXED32, 9)]


def test_large_field_numbers_use_multi_byte_keys() -> None:
    data = encode_record(38, b"sg")
    assert data[:2] == b"\xb2\x02"
    assert list(iter_records(data)) == [Record(38, BYTES, b"sg")]


@pytest.mark.parametrize("data, message", [
    (b"\x08", "truncated varint"),
    (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
    (b"\x12\x05ab", "claims 5 bytes"),
    (b"\x19\x01\x02", "truncated fixed64"),
    (b"\x0b", "unsupported wire type 3"),
    (b"\x00\x00", "field number 0"),
])
def test_malformed_input_raises(data: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        list(iter_records(data))
