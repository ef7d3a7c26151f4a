"""SPDY/3.1 framing: exact bytes, round trips, split input, header compression state."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from machinery.streams import spdy

pytestmark = pytest.mark.timeout(30)


def test_dictionary_is_the_spdy3_dictionary() -> None:
    # Length and digest of moby/spdystream spdy/dictionary.go (the SPDY/3 draft's table).
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    )


def test_control_and_data_frames_have_the_spdy3_layout() -> None:
    w = spdy.FrameWriter()
    assert w.encode(spdy.PingFrame(1)) == bytes.fromhex("80030006 00000004 00000001")
    assert w.encode(spdy.DataFrame(3, b"hi", fin=True)) == bytes.fromhex("00000003 01000002") + b"hi"
    assert w.encode(spdy.RstStreamFrame(5, spdy.RST_CANCEL)) == bytes.fromhex(
        "80030003 00000008 00000005 00000005")
    assert w.encode(spdy.GoAwayFrame(7, 0)) == bytes.fromhex("80030007 00000008 00000007 00000000")
    assert w.encode(spdy.WindowUpdateFrame(1, 1000)) == bytes.fromhex(
        "80030009 00000008 00000001 000003e8")


def test_header_block_is_zlib_with_the_dictionary_and_length_prefixed_pairs() -> None:
    frame = spdy.FrameWriter().encode(spdy.SynReplyFrame(1, {"Port": ["80"], "multi": ["a", "b"]}))
    assert frame[:4] == bytes.fromhex("80030002")
    assert int.from_bytes(frame[5:8], "big") == len(frame) - 8
    raw = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(frame[12:])
    # names lowercased, several values joined by NUL
    assert raw == (struct.pack(">I", 2) + struct.pack(">I", 4) + b"port" + struct.pack(">I", 2) + b"80"
                   + struct.pack(">I", 5) + b"multi" + struct.pack(">I", 3) + b"a\0b")


ALL_FRAMES: list[spdy.Frame] = [
    spdy.SynStreamFrame(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]},
                        associated_stream_id=0, priority=3, fin=True, unidirectional=True),
    spdy.SynReplyFrame(1, {}),
    spdy.SynReplyFrame(3, {"x": ["1", "2"]}, fin=True),
    spdy.HeadersFrame(3, {"status": ["200 OK"]}),
    spdy.DataFrame(3, b"payload"),
    spdy.DataFrame(3, b"", fin=True),
    spdy.RstStreamFrame(3, spdy.RST_PROTOCOL_ERROR),
    spdy.SettingsFrame(((0, 4, 100), (1, 7, 65536)), clear=True),
    spdy.PingFrame(0xFFFFFFFF),
    spdy.GoAwayFrame(9, 2),
    spdy.WindowUpdateFrame(5, 65536),
    spdy.UnknownFrame(10, 0, b"credential"),
]


def test_every_frame_type_round_trips() -> None:
    w, r = spdy.FrameWriter(), spdy.FrameReader()
    for frame in ALL_FRAMES:
        assert r.feed(w.encode(frame)) == [frame]


def test_frames_split_across_messages_and_packed_together() -> None:
    w = spdy.FrameWriter()
    wire = b"".join(w.encode(f) for f in ALL_FRAMES)
    byte_by_byte = spdy.FrameReader()
    out: list[spdy.Frame] = []
    for i in range(len(wire)):
        out.extend(byte_by_byte.feed(wire[i:i + 1]))
    assert out == ALL_FRAMES
    assert spdy.FrameReader().feed(wire) == ALL_FRAMES
    # a partial frame stays buffered until the rest arrives
    r = spdy.FrameReader()
    assert r.feed(wire[:5]) == []
    assert r.feed(wire[5:]) == ALL_FRAMES


def test_header_compression_keeps_one_context_per_direction() -> None:
    w = spdy.FrameWriter()
    headers = {"streamtype": ["data"], "port": ["8080"], "requestid": ["17"]}
    blocks = [w.encode(spdy.SynStreamFrame(sid, headers)) for sid in (1, 3, 5)]
    # later blocks refer back to the first: the same headers cost a few bytes
    assert len(blocks[1]) < len(blocks[0]) - 10
    reader = spdy.FrameReader()
    assert [f.headers for f in reader.feed(b"".join(blocks))] == [headers] * 3  # type: ignore[union-attr]
    # a reader that missed the first block cannot decode the second
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.FrameReader().feed(blocks[1])


def test_reads_blocks_from_a_best_compression_peer() -> None:
    # spdystream compresses at zlib.BestCompression; any level must decode.
    comp = zlib.compressobj(9, zdict=spdy.DICTIONARY)
    reader = spdy.FrameReader()
    for sid, port in ((1, "80"), (3, "443")):
        raw = struct.pack(">I", 1) + struct.pack(">I", 4) + b"port" + struct.pack(">I", len(port)) + port.encode()
        block = comp.compress(raw) + comp.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIBB", sid, 0, 0, 0) + block
        frame = struct.pack(">HHI", 0x8003, 1, len(body)) + body
        assert reader.feed(frame) == [spdy.SynStreamFrame(sid, {"port": [port]})]


def test_rejects_other_versions_and_garbled_headers() -> None:
    with pytest.raises(spdy.SpdyProtocolError, match="version"):
        spdy.FrameReader().feed(bytes.fromhex("80020006 00000004 00000001"))
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.FrameReader().feed(bytes.fromhex("80030002 00000008 00000001") + b"junk")
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.FrameReader().feed(bytes.fromhex("80030006 00000002 0000"))


def test_oversized_data_must_be_split_by_the_caller() -> None:
    with pytest.raises(ValueError):
        spdy.FrameWriter().encode(spdy.DataFrame(1, b"\0" * (1 << 24)))
