"""Request decoding and response encoding as kube-apiserver does them.

Bodies are JSON, YAML or Kubernetes protobuf (which kubectl's typed clients
send; see :mod:`apiserver.protobuf`) up to a size limit; PATCH content types
pick the patch engine; ``Accept: ...;as=Table`` asks for a Table; every failure is a
``Status`` whose HTTP code equals its ``code``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response

from machinery import errors

from . import protobuf

__all__ = [
    "MAX_BODY",
    "read_body",
    "patch_type",
    "json_response",
    "status_response",
    "wants_table",
    "encode_continue",
    "decode_continue",
    "query_bool",
    "query_int",
]

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's default request size limit

_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "application/json").split(";", 1)[0].strip().lower()


async def read_body(request: Request, *, patch: bool = False) -> Any:
    """The decoded body; 413 past the limit, 415 for a foreign type, 400 when malformed."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
        chunks.append(chunk)
    raw = b"".join(chunks)
    media = _media_type(request)
    if patch:
        if media not in _PATCH_TYPES:
            raise errors.UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(_PATCH_TYPES)}")
    elif media not in ("application/json", "application/yaml", "application/x-yaml", "text/yaml", "*/*", "",
                       protobuf.CONTENT_TYPE):
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"application/json, application/yaml, {protobuf.CONTENT_TYPE}")
    if not raw.strip():
        raise errors.BadRequest("the body of the request was empty")
    if media == protobuf.CONTENT_TYPE:
        return _decode_protobuf(raw)
    if media in ("application/json", "application/json-patch+json", "application/merge-patch+json",
                 "application/strategic-merge-patch+json", "application/apply-patch+json"):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.BadRequest(f"error decoding JSON: {exc}") from None
    try:
        docs = [d for d in yaml.safe_load_all(raw.decode("utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = str(exc).replace("\n", " ")
        raise errors.BadRequest(f"error decoding YAML: {line}") from None
    if len(docs) != 1:
        raise errors.BadRequest("the body must contain exactly one YAML document")
    # YAML may produce dates and other non-JSON scalars; normalise through JSON.
    try:
        return orjson.loads(orjson.dumps(docs[0], default=str))
    except TypeError as exc:
        raise errors.BadRequest(f"error decoding YAML: {exc}") from None


def _decode_protobuf(raw: bytes) -> dict[str, Any]:
    try:
        return protobuf.decode_object(raw)
    except protobuf.UnsupportedProtobuf as exc:
        raise errors.UnsupportedMediaType(str(exc)) from None
    except protobuf.ProtobufError as exc:
        raise errors.BadRequest(f"error decoding protobuf: {exc}") from None


def patch_type(request: Request) -> str:
    return _PATCH_TYPES[_media_type(request)]


def json_response(body: Any, status: int = 200, *, content_type: str = "application/json",
                  warnings: list[str] | None = None) -> Response:
    headers = {}
    if warnings:
        # A field name from the client may hold any character: quote it JSON-style so the
        # header stays printable ASCII (control characters would break HTTP framing).
        headers["Warning"] = ", ".join(f"299 - {json.dumps(w, ensure_ascii=True)}" for w in warnings[:20])
    return Response(orjson.dumps(body), status_code=status, media_type=content_type, headers=headers)


def status_response(err: errors.ApiError) -> Response:
    headers = {}
    if err.retry_after:
        headers["Retry-After"] = str(err.retry_after)
    return Response(orjson.dumps(err.to_status()), status_code=err.code, media_type="application/json",
                    headers=headers)


TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(request: Request) -> bool:
    accept = request.headers.get("accept") or ""
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def encode_continue(revision: int, start_key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key})
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.BadRequest("continue key is not valid: illegal base64 data") from None


def query_bool(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return value is not None and value.lower() in ("true", "1", "")


def query_int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f"invalid {name} {value!r}: must be an integer") from None
