"""SPDY/3.1 framing: the wire format kubectl tunnels port-forward through.

kubectl 1.32 wraps its WebSocket in a ``net.Conn`` and runs a SPDY client
(moby/spdystream) on top, so whatever serves port-forward must parse and
write SPDY frames. Only framing lives here; the session logic is in
``portforward``. Header blocks are zlib streams primed with the SPDY/3
dictionary, one compression context per direction for the whole connection,
flushed with Z_SYNC_FLUSH after each block: a block can only be decoded by
the reader that decoded every earlier block of that direction.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "VERSION", "DICTIONARY", "Headers", "Frame",
    "DataFrame", "SynStreamFrame", "SynReplyFrame", "RstStreamFrame", "SettingsFrame",
    "PingFrame", "GoAwayFrame", "HeadersFrame", "WindowUpdateFrame", "UnknownFrame",
    "FrameWriter", "FrameReader", "SpdyProtocolError",
    "FLAG_FIN", "FLAG_UNIDIRECTIONAL",
    "RST_PROTOCOL_ERROR", "RST_INVALID_STREAM", "RST_REFUSED_STREAM", "RST_CANCEL",
    "RST_INTERNAL_ERROR",
]

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9,
)
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM = 1, 2, 3
RST_CANCEL, RST_INTERNAL_ERROR = 5, 6

_MAX_LENGTH = (1 << 24) - 1
_STREAM_ID_MASK = 0x7FFFFFFF


def _build_dictionary() -> bytes:
    # The SPDY/3 draft's header dictionary (section 2.6.10.1): common header
    # names, each with a 4-byte big-endian length, then a run of common values.
    names = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status"
    ).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
                 "origin"]
    values = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
        "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    prefixed = b"".join(struct.pack(">I", len(n)) + n.encode() for n in names)
    return prefixed + values.encode()


DICTIONARY: bytes = _build_dictionary()

# Header names are lowercase on the wire; a name may carry several values
# joined by NUL, kept here as a list.
Headers = dict[str, list[str]]


class SpdyProtocolError(ValueError):
    """The peer sent bytes that are not SPDY/3 (bad version, bad header block)."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStreamFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    associated_stream_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReplyFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStreamFrame:
    stream_id: int
    status: int


@dataclass(frozen=True)
class SettingsFrame:
    # (flags, id, value) triples
    entries: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class PingFrame:
    ping_id: int


@dataclass(frozen=True)
class GoAwayFrame:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdateFrame:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownFrame:
    """A control frame type SPDY/3 says to ignore (CREDENTIAL, future types)."""

    frame_type: int
    flags: int
    payload: bytes


Frame = (
    DataFrame | SynStreamFrame | SynReplyFrame | RstStreamFrame | SettingsFrame | PingFrame
    | GoAwayFrame | HeadersFrame | WindowUpdateFrame | UnknownFrame
)


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > _MAX_LENGTH:
        raise ValueError("SPDY control frame too long")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def _flags(fin: bool, unidirectional: bool = False) -> int:
    return (FLAG_FIN if fin else 0) | (FLAG_UNIDIRECTIONAL if unidirectional else 0)


class FrameWriter:
    """Serialises frames for one direction of one connection (owns its compressor)."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zdict=DICTIONARY)

    def header_block(self, headers: Headers) -> bytes:
        raw = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            key = name.lower().encode()
            value = "\0".join(values).encode()
            raw.append(struct.pack(">I", len(key)) + key + struct.pack(">I", len(value)) + value)
        block = b"".join(raw)
        return self._compressor.compress(block) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > _MAX_LENGTH:
                raise ValueError("SPDY data frame too long; split it")
            word = (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)
            return struct.pack(">II", frame.stream_id & _STREAM_ID_MASK, word) + frame.data
        if isinstance(frame, SynStreamFrame):
            body = struct.pack(
                ">IIBB", frame.stream_id & _STREAM_ID_MASK,
                frame.associated_stream_id & _STREAM_ID_MASK, (frame.priority & 7) << 5, 0,
            )
            return _control(SYN_STREAM, _flags(frame.fin, frame.unidirectional),
                            body + self.header_block(frame.headers))
        if isinstance(frame, (SynReplyFrame, HeadersFrame)):
            kind = SYN_REPLY if isinstance(frame, SynReplyFrame) else HEADERS
            body = struct.pack(">I", frame.stream_id & _STREAM_ID_MASK)
            return _control(kind, _flags(frame.fin), body + self.header_block(frame.headers))
        if isinstance(frame, RstStreamFrame):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, SettingsFrame):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (flags << 24) | (sid & 0xFFFFFF), value)
                for flags, sid, value in frame.entries
            )
            return _control(SETTINGS, 1 if frame.clear else 0, body)
        if isinstance(frame, PingFrame):
            return _control(PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAwayFrame):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        if isinstance(frame, WindowUpdateFrame):
            return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        return _control(frame.frame_type, frame.flags, frame.payload)


class FrameReader:
    """Reassembles frames from arbitrary chunks of one direction of a connection.

    Over a WebSocket tunnel a frame may span several messages or share one with
    others, so bytes are buffered until whole frames are present.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._decompressor = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head = bytes(self._buffer[:8])
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frames.append(self._parse(head, payload))
        return frames

    def header_block(self, block: bytes) -> Headers:
        try:
            raw = self._decompressor.decompress(block)
        except zlib.error as exc:
            raise SpdyProtocolError(f"bad header block: {exc}") from exc
        headers: Headers = {}
        try:
            (count,) = struct.unpack_from(">I", raw, 0)
            offset = 4
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, offset)
                name = raw[offset + 4:offset + 4 + n].decode().lower()
                offset += 4 + n
                (n,) = struct.unpack_from(">I", raw, offset)
                value = raw[offset + 4:offset + 4 + n].decode()
                offset += 4 + n
                headers.setdefault(name, []).extend(value.split("\0"))
        except (struct.error, UnicodeDecodeError) as exc:
            raise SpdyProtocolError(f"truncated header block: {exc}") from exc
        return headers

    def _parse(self, head: bytes, payload: bytes) -> Frame:
        first, word = struct.unpack(">II", head)
        flags = word >> 24
        if not first & 0x80000000:
            return DataFrame(first & _STREAM_ID_MASK, payload, bool(flags & FLAG_FIN))
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyProtocolError(f"unsupported SPDY version {version}")
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == SYN_STREAM:
                sid, assoc, prio = struct.unpack_from(">IIB", payload)
                return SynStreamFrame(
                    sid & _STREAM_ID_MASK, self.header_block(payload[10:]),
                    assoc & _STREAM_ID_MASK, prio >> 5, fin, bool(flags & FLAG_UNIDIRECTIONAL),
                )
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", payload)
                cls = SynReplyFrame if kind == SYN_REPLY else HeadersFrame
                return cls(sid & _STREAM_ID_MASK, self.header_block(payload[4:]), fin)
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", payload)
                return RstStreamFrame(sid & _STREAM_ID_MASK, status)
            if kind == SETTINGS:
                (count,) = struct.unpack_from(">I", payload)
                entries = tuple(
                    (w >> 24, w & 0xFFFFFF, v)
                    for w, v in (struct.unpack_from(">II", payload, 4 + 8 * i) for i in range(count))
                )
                return SettingsFrame(entries, bool(flags & 1))
            if kind == PING:
                return PingFrame(struct.unpack_from(">I", payload)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", payload)
                return GoAwayFrame(last & _STREAM_ID_MASK, status)
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", payload)
                return WindowUpdateFrame(sid & _STREAM_ID_MASK, delta & _STREAM_ID_MASK)
        except struct.error as exc:
            raise SpdyProtocolError(f"short control frame type {kind}") from exc
        return UnknownFrame(kind, flags, payload)
