"""The ``k8s\\x00`` + ``runtime.Unknown`` envelope around every protobuf body."""

from __future__ import annotations

import pytest

from apiserver.protobuf import UnsupportedProtobuf
from apiserver.protobuf.envelope import MAGIC, Envelope, open_envelope
from apiserver.protobuf.wire import ProtobufError, encode_record


def envelope(api_version: str = "v1", kind: str = "ConfigMap", raw: bytes = b"\x0a\x00",
             encoding: str = "", content_type: str = "") -> bytes:
    type_meta = encode_record(1, api_version.encode()) + encode_record(2, kind.encode())
    return MAGIC + (encode_record(1, type_meta) + encode_record(2, raw)
                    + encode_record(3, encoding.encode()) + encode_record(4, content_type.encode()))


def test_opens_type_and_raw_bytes() -> None:
    assert open_envelope(envelope("apps/v1", "Deployment", b"\x0a\x02\x0a\x00")) == \
        Envelope("apps/v1", "Deployment", b"\x0a\x02\x0a\x00")


def test_kubectl_namespace_body() -> None:
    # `kubectl create namespace nsx`, as kubectl 1.32 sent it.
    raw = "0a130a036e737812001a0022002a00320038004200" "1200" "1a020a00"
    body = bytes.fromhex("6b387300" "0a0f0a02763112094e616d657370616365" "121b" + raw + "1a00" "2200")
    assert open_envelope(body) == Envelope("v1", "Namespace", bytes.fromhex(raw))


def test_missing_magic_is_malformed() -> None:
    with pytest.raises(ProtobufError, match="magic"):
        open_envelope(b'{"kind": "ConfigMap"}')


def test_missing_kind_is_malformed() -> None:
    with pytest.raises(ProtobufError, match="apiVersion/kind"):
        open_envelope(envelope(kind=""))


def test_compressed_or_foreign_content_is_unsupported() -> None:
    with pytest.raises(UnsupportedProtobuf, match="gzip"):
        open_envelope(envelope(encoding="gzip"))
    with pytest.raises(UnsupportedProtobuf, match="application/json"):
        open_envelope(envelope(content_type="application/json"))
