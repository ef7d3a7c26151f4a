"""Just enough HTTP/1.1 framing for a streaming reverse proxy (RFC 9112).

The proxy never buffers a body: it reads a message head, decides how the
body is delimited (``Content-Length``, chunked, or -- for responses only --
the connection closing), and copies exactly that many bytes from one stream
to the other as they arrive.  Chunked bodies are passed through as chunks
(sizes, data and trailers), so the far side sees the framing it expects and
the proxy never has to re-encode.  Hop-by-hop headers, those that describe
one connection rather than the message (RFC 9110 section 7.6.1), are removed
by ``end_to_end``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["HttpError", "Head", "read_head", "Framing", "request_framing", "response_framing",
           "copy_body", "end_to_end", "simple_response", "REASONS", "MAX_HEAD"]

# The stream limit of both sides of the proxy: a longer message head is refused (431/502).
MAX_HEAD = 64 * 1024
_CHUNK = 64 * 1024
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                         "transfer-encoding", "upgrade", "proxy-authorization",
                         "proxy-authenticate"})
REASONS = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout",
           413: "Content Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout", 505: "HTTP Version Not Supported"}


class HttpError(Exception):
    """A message the proxy cannot accept; ``status`` is what to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Head:
    """A request or status line split in three, plus the headers in order."""

    start: tuple[str, str, str]
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return ", ".join(values) if values else None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def tokens(self, name: str) -> set[str]:
        """Comma-separated tokens of a header such as Connection, lower-cased."""
        return {t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()}

    def render(self) -> bytes:
        lines = [" ".join(self.start)] + [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_head(reader: asyncio.StreamReader, *, response: bool = False) -> Head | None:
    """The next message head; ``None`` on a clean end of stream before its first byte."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise HttpError(502 if response else 400, "incomplete message head") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(431, "message head too large") from exc
    lines = raw.decode("latin-1").split("\r\n")[:-2]
    while lines and not lines[0]:
        lines.pop(0)  # RFC 9112 2.2: tolerate empty lines before a request line
    if not lines:
        raise HttpError(400, "empty message head")
    parts = lines[0].split(" ", 2)
    if response:
        if len(parts) == 2:
            parts.append("")
        if len(parts) != 3 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(502, f"malformed status line {lines[0][:100]!r}")
    elif len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HttpError(400, f"malformed request line {lines[0][:100]!r}")
    elif parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"unsupported version {parts[2][:20]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400 if not response else 502, f"malformed header {line[:100]!r}")
        headers.append((name, value.strip()))
    return Head((parts[0], parts[1], parts[2]), headers)


@dataclass(frozen=True)
class Framing:
    """How a body ends: after ``length`` bytes, after the last chunk, or at close."""

    kind: str  # "length", "chunked" or "close"
    length: int = 0

    @property
    def empty(self) -> bool:
        return self.kind == "length" and self.length == 0


def _content_length(head: Head, status: int) -> int | None:
    values = {v.strip() for value in head.get_all("content-length") for v in value.split(",")}
    if not values:
        return None
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise HttpError(status, "invalid Content-Length")
    return int(values.pop())


def request_framing(head: Head) -> Framing:
    encodings = head.tokens("transfer-encoding")
    if encodings:
        if head.get_all("transfer-encoding")[-1].split(",")[-1].strip().lower() != "chunked":
            raise HttpError(400, "a request body must end with chunked transfer coding")
        return Framing("chunked")
    length = _content_length(head, 400)
    return Framing("length", length or 0)


def response_framing(head: Head, request_method: str) -> Framing:
    status = int(head.start[1])
    if request_method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return Framing("length", 0)
    if head.tokens("transfer-encoding"):
        chunked = head.get_all("transfer-encoding")[-1].split(",")[-1].strip().lower()
        return Framing("chunked") if chunked == "chunked" else Framing("close")
    length = _content_length(head, 502)
    return Framing("close") if length is None else Framing("length", length)


async def _copy_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        count: int) -> None:
    while count > 0:
        data = await reader.read(min(count, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", count)
        writer.write(data)
        await writer.drain()
        count -= len(data)


async def copy_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    framing: Framing) -> None:
    """Copy one body, chunk by chunk as it arrives; raises if the sender stops early."""
    if framing.kind == "length":
        await _copy_exactly(reader, writer, framing.length)
    elif framing.kind == "close":
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    else:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(400, "malformed chunk size") from None
            writer.write(line)
            if size == 0:
                break
            await _copy_exactly(reader, writer, size)
            writer.write(await reader.readexactly(2))
        while True:  # trailer fields, then the empty line that ends the message
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            if line == b"\r\n":
                break
        await writer.drain()


def end_to_end(head: Head) -> list[tuple[str, str]]:
    """The headers that travel past this hop: hop-by-hop ones and those Connection names go."""
    named = head.tokens("connection")
    return [(k, v) for k, v in head.headers if k.lower() not in _HOP_BY_HOP | named]


def simple_response(status: int, text: str, *, close: bool) -> bytes:
    body = text.encode() + b"\n"
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
             "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
