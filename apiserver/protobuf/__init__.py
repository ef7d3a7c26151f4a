"""Kubernetes protobuf request bodies, decoded into the JSON dicts the server stores.

kubectl 1.32 sends ``application/vnd.kubernetes.protobuf`` whenever it
writes through a typed client: every ``kubectl create <generator>`` (and
``create job --from``, ``create token``), ``debug --copy-to`` and ``debug
node/...``, ``autoscale``, ``auth can-i`` and ``auth whoami``. It accepts
JSON back (its Accept header lists ``application/json``), so replies stay
JSON. :func:`decode_object` opens the envelope
(:mod:`.envelope`), finds the message table for the object's kind
(:mod:`.tables`) and decodes it (:mod:`.decode`) into exactly what the same
object would have been as JSON, so everything after ``read_body`` is
unchanged. Malformed bytes raise :class:`ProtobufError` (a 400); well-formed
bytes of a kind or field without a table raise :class:`UnsupportedProtobuf`
(a 415), never a guess.
"""

from __future__ import annotations

from typing import Any

from .decode import UnsupportedProtobuf, decode_message
from .envelope import MAGIC, open_envelope
from .tables import KINDS, MESSAGES
from .wire import ProtobufError

__all__ = ["CONTENT_TYPE", "MAGIC", "ProtobufError", "UnsupportedProtobuf", "decode_object", "supported_kinds"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of one enveloped Kubernetes object."""
    envelope = open_envelope(body)
    message = KINDS.get((envelope.api_version, envelope.kind))
    if message is None:
        raise UnsupportedProtobuf(
            f"protobuf is not supported for {envelope.kind} ({envelope.api_version}); send JSON instead")
    obj = decode_message(MESSAGES, message, envelope.raw)
    return {"kind": envelope.kind, "apiVersion": envelope.api_version, **obj}


def supported_kinds() -> list[tuple[str, str]]:
    """Every ``(apiVersion, kind)`` that protobuf bodies may carry."""
    return sorted(KINDS)
