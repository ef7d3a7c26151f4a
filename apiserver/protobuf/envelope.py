"""The envelope around every Kubernetes protobuf body.

A body of type ``application/vnd.kubernetes.protobuf`` is the four magic
bytes ``k8s\\x00`` followed by one ``runtime.Unknown`` message. Its fields,
as kubectl 1.32 writes them:

====  ===============  ==========================================
 1    typeMeta         message: apiVersion (1), kind (2)
 2    raw              the object itself, a message of that kind
 3    contentEncoding  empty (no compression is ever applied)
 4    contentType      empty (``raw`` is protobuf)
====  ===============  ==========================================

The magic prefix is what tells a protobuf body from JSON that happens to
arrive under the wrong content type, so it is checked before anything else.
"""

from __future__ import annotations

from typing import NamedTuple

from .decode import UnsupportedProtobuf
from .wire import BYTES, ProtobufError, iter_records

__all__ = ["MAGIC", "Envelope", "open_envelope"]

MAGIC = b"k8s\x00"


class Envelope(NamedTuple):
    api_version: str
    kind: str
    raw: bytes


def _text(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError(f"{what} must be length-delimited")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError(f"{what} is not valid UTF-8") from None


def open_envelope(body: bytes) -> Envelope:
    """The type and raw object bytes of a protobuf body."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic prefix")
    api_version = kind = encoding = content_type = ""
    raw = b""
    for record in iter_records(body[len(MAGIC):]):
        if record.number == 1:
            if record.wire_type != BYTES or not isinstance(record.value, bytes):
                raise ProtobufError("typeMeta must be a message")
            for meta in iter_records(record.value):
                if meta.number == 1:
                    api_version = _text(meta.value, "typeMeta.apiVersion")
                elif meta.number == 2:
                    kind = _text(meta.value, "typeMeta.kind")
        elif record.number == 2:
            if not isinstance(record.value, bytes):
                raise ProtobufError("raw must be length-delimited")
            raw = record.value
        elif record.number == 3:
            encoding = _text(record.value, "contentEncoding")
        elif record.number == 4:
            content_type = _text(record.value, "contentType")
    if not kind or not api_version:
        raise ProtobufError("protobuf envelope has no apiVersion/kind")
    if encoding:
        raise UnsupportedProtobuf(f"protobuf content encoding {encoding!r} is not supported")
    if content_type and content_type != "application/vnd.kubernetes.protobuf":
        raise UnsupportedProtobuf(f"embedded content type {content_type!r} is not supported")
    return Envelope(api_version, kind, raw)
