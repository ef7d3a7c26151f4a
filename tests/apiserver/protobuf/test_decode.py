"""Table-driven decoding: Go zero-value rules, maps, inlined structs and apimachinery wrappers."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from apiserver.protobuf.decode import FieldType, Message, UnsupportedProtobuf, decode_message, parse_type
from apiserver.protobuf.wire import FIXED64, ProtobufError, encode_record, encode_varint

TABLES: dict[str, Message] = {
    "Thing": {
        1: ("name", "string"),
        2: ("count", "int32"),
        3: ("replicas", "*int32"),
        4: ("enabled", "bool"),
        5: ("optional", "*bool"),
        6: ("tags", "[]string"),
        7: ("labels", "map[string]string"),
        8: ("data", "map[string]bytes"),
        9: ("limits", "map[string]Quantity"),
        10: ("port", "IntOrString"),
        11: ("created", "Time"),
        12: ("renewed", "MicroTime"),
        13: ("timeout", "Duration"),
        14: ("object", "RawExtension"),
        15: ("child", "Child"),
        16: ("children", "[]Child"),
        17: ("", "Embedded"),
        18: ("codes", "[]int32"),
        19: ("big", "int64"),
        20: ("ratio", "double"),
        21: ("raw", "bytes"),
    },
    "Child": {1: ("name", "string")},
    "Embedded": {1: ("http", "Child")},
}


def decode(*records: bytes) -> dict[str, Any]:
    return decode_message(TABLES, "Thing", b"".join(records))


def message(*records: bytes) -> bytes:
    return b"".join(records)


def entry(key: str, value: bytes) -> bytes:
    return encode_record(1, key.encode()) + encode_record(2, value)


def test_type_strings_parse_like_go_declarations() -> None:
    assert parse_type("*int32") == FieldType("int32", keep_zero=True)
    assert parse_type("[]Container") == FieldType("Container", repeated=True)
    assert parse_type("map[string]Quantity") == FieldType("Quantity", map=True)


def test_zero_scalars_are_dropped_unless_kept() -> None:
    # Go writes every non-pointer scalar; JSON's omitempty leaves the zero ones out.
    assert decode(encode_record(1, b""), encode_record(2, 0), encode_record(4, 0)) == {}
    assert decode(encode_record(3, 0), encode_record(5, 0)) == {"replicas": 0, "optional": False}
    assert decode(encode_record(1, b"web"), encode_record(2, 3), encode_record(4, 1)) == \
        {"name": "web", "count": 3, "enabled": True}


def test_negative_and_wide_integers() -> None:
    assert decode(encode_record(2, -5), encode_record(19, 2**40)) == {"count": -5, "big": 2**40}


def test_repeated_fields_keep_order_and_empty_elements() -> None:
    assert decode(encode_record(6, b"a"), encode_record(6, b""), encode_record(6, b"c")) == {"tags": ["a", "", "c"]}
    assert decode(encode_record(18, 111), encode_record(18, 112)) == {"codes": [111, 112]}
    packed = encode_varint(1) + encode_varint(2) + encode_varint(300)
    assert decode(encode_record(18, packed)) == {"codes": [1, 2, 300]}


def test_maps_keep_empty_values() -> None:
    assert decode(encode_record(7, entry("a", b"b")), encode_record(7, entry("e", b""))) == \
        {"labels": {"a": "b", "e": ""}}
    assert decode(encode_record(8, entry("bin", b"\x00\xff"))) == \
        {"data": {"bin": base64.b64encode(b"\x00\xff").decode()}}
    assert decode(encode_record(9, entry("cpu", encode_record(1, b"500m")))) == {"limits": {"cpu": "500m"}}
    assert decode(encode_record(7, encode_record(1, b"only-key"))) == {"labels": {"only-key": ""}}


def test_int_or_string() -> None:
    as_int = message(encode_record(1, 0), encode_record(2, 8080), encode_record(3, b""))
    as_str = message(encode_record(1, 1), encode_record(2, 0), encode_record(3, b"http"))
    assert decode(encode_record(10, as_int)) == {"port": 8080}
    assert decode(encode_record(10, as_str)) == {"port": "http"}


def test_times_and_durations() -> None:
    stamp = message(encode_record(1, 1700000000), encode_record(2, 123456789))
    assert decode(encode_record(11, stamp)) == {"created": "2023-11-14T22:13:20Z"}
    assert decode(encode_record(12, stamp)) == {"renewed": "2023-11-14T22:13:20.123456Z"}
    assert decode(encode_record(11, b"")) == {"created": None}  # Go's zero Time marshals as null
    for nanos, text in [(0, "0s"), (600 * 10**9, "10m0s"), (3723 * 10**9 + 5 * 10**8, "1h2m3.5s"),
                        (1500, "1.5µs"), (2 * 10**6, "2ms"), (-90 * 10**9, "-1m30s")]:
        assert decode(encode_record(13, encode_record(1, nanos))) == {"timeout": text}


def test_raw_extension_holds_json() -> None:
    assert decode(encode_record(14, encode_record(1, b'{"a": [1]}'))) == {"object": {"a": [1]}}
    with pytest.raises(UnsupportedProtobuf, match="RawExtension"):
        decode(encode_record(14, encode_record(1, b"k8s\x00...")))


def test_nested_messages_lists_and_inlined_structs() -> None:
    child = encode_record(1, b"c")
    assert decode(encode_record(15, b"")) == {"child": {}}  # an empty struct still marshals as {}
    assert decode(encode_record(16, child), encode_record(16, child)) == {"children": [{"name": "c"}, {"name": "c"}]}
    assert decode(encode_record(17, encode_record(1, child))) == {"http": {"name": "c"}}


def test_double_and_bytes() -> None:
    word = int.from_bytes(struct.pack("<d", 0.25), "little")
    data = encode_varint(20 << 3 | FIXED64) + word.to_bytes(8, "little")
    assert decode(data, encode_record(21, b"\x01")) == {"ratio": 0.25, "raw": "AQ=="}


def test_unknown_fields_are_skipped_only_when_zero() -> None:
    zeros = encode_record(1, b"") + encode_record(2, encode_record(1, 0))
    assert decode(encode_record(99, 0), encode_record(98, b""), encode_record(97, zeros), encode_record(1, b"x")) == \
        {"name": "x"}
    with pytest.raises(UnsupportedProtobuf, match="Thing field 99"):
        decode(encode_record(99, 7))
    with pytest.raises(UnsupportedProtobuf, match="Thing field 97"):
        decode(encode_record(97, encode_record(2, encode_record(1, b"set"))))


def test_unknown_message_and_type_mismatches() -> None:
    with pytest.raises(UnsupportedProtobuf, match="no protobuf table for message Nope"):
        decode_message(TABLES, "Nope", b"")
    with pytest.raises(ProtobufError, match="wire type"):
        decode(encode_record(1, 5))
    with pytest.raises(ProtobufError, match="UTF-8"):
        decode(encode_record(1, b"\xff\xfe"))
