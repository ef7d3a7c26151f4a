"""Docker's hijacked streams and the pod connector, against stand-ins on local sockets.

A fake engine on a Unix socket answers the upgrade the way dockerd does
(``101 UPGRADED``, then multiplexed frames, a half-close ending stdin), so
the exec process, its demultiplexing and its session under ``serve_exec`` are
checked byte for byte without Docker. The connector's netns relay runs
through a stand-in ``nsenter`` that only drops its namespace arguments.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import docker.errors
import pytest

from kubelet.portforward import PodConnector
from kubelet.runtime import DockerError
from kubelet.streams import DockerEndpoint, DockerStreamProcess, FrameDecoder
from machinery.streams import serve_exec
from tests.machinery.streams.streams_memory import MemoryTransport

pytestmark = pytest.mark.timeout(30)


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class FakeEngine:
    """Answers one hijack per connection: a status, then what ``script`` does with the socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[str] = []
        self.status = "101 UPGRADED"
        self.error_body = b""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(next(line.split(":")[1] for line in head.split("\r\n")
                          if line.lower().startswith("content-length")))
        self.requests.append(head + (await reader.readexactly(length)).decode())
        if not self.status.startswith("101"):
            writer.write(f"HTTP/1.1 {self.status}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(self.error_body)}\r\n\r\n".encode() + self.error_body)
            writer.close()
            return
        # The head and the first output in one write: nothing may be lost after the head.
        writer.write(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame(1, b"early\n"))
        writer.write(frame(2, b"to stderr\n"))
        # Echo stdin as stdout in pieces that split frames, until the half-close.
        while data := await reader.read(1024):
            out = frame(1, data)
            writer.write(out[:3])
            await writer.drain()
            writer.write(out[3:])
        writer.write(frame(1, b"stdin closed\n"))
        await writer.drain()
        writer.close()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[FakeEngine]:
    fake = FakeEngine(tmp_path / "docker.sock")
    server = await asyncio.start_unix_server(fake.handle, str(fake.path))
    try:
        yield fake
    finally:
        server.close()


def endpoint(engine: FakeEngine) -> DockerEndpoint:
    return DockerEndpoint(f"unix://{engine.path}", "1.41")


async def process(engine: FakeEngine, *, tty: bool = False, code: int = 7,
                  resized: list[tuple[int, int]] | None = None) -> DockerStreamProcess:
    reader, writer = await endpoint(engine).hijack("/exec/abc/start", body={"Detach": False, "Tty": tty})

    async def resize(width: int, height: int) -> None:
        if resized is not None:
            resized.append((width, height))

    async def exit_code() -> int:
        return code

    return DockerStreamProcess(reader, writer, tty=tty, resize=resize, exit_code=exit_code)


def test_frame_decoder_reassembles_split_frames() -> None:
    decoder = FrameDecoder()
    data = frame(1, b"hello") + frame(2, b"") + frame(2, b"oops\n")
    assert decoder.feed(data[:4]) == []
    assert decoder.feed(data[4:10]) == []
    assert decoder.feed(data[10:]) == [(1, b"hello"), (2, b""), (2, b"oops\n")]


def test_endpoint_accepts_unix_and_tcp_hosts_only() -> None:
    assert DockerEndpoint("unix:///run/docker.sock", "1.41").uds == "/run/docker.sock"
    assert DockerEndpoint("tcp://127.0.0.1:2375", "1.43").base_url == "http://127.0.0.1:2375"
    with pytest.raises(ValueError, match="unix:// or tcp://"):
        DockerEndpoint("ssh://somewhere", "1.41")


async def test_hijack_sends_an_upgrade_and_keeps_early_output(engine: FakeEngine) -> None:
    proc = await process(engine)
    try:
        assert await proc.read_stdout() == b"early\n"
        assert await proc.read_stderr() == b"to stderr\n"
    finally:
        await proc.close()
    request = engine.requests[0]
    assert request.startswith("POST /v1.41/exec/abc/start HTTP/1.1\r\n")
    assert "Upgrade: tcp\r\n" in request and "Connection: Upgrade\r\n" in request
    assert request.endswith('{"Detach": false, "Tty": false}')


async def test_hijack_errors_carry_dockers_message(engine: FakeEngine) -> None:
    engine.status, engine.error_body = "404 Not Found", json.dumps({"message": "No such exec"}).encode()
    with pytest.raises(docker.errors.NotFound, match="No such exec"):
        await endpoint(engine).hijack("/exec/gone/start")
    engine.status = "409 Conflict"
    engine.error_body = json.dumps({"message": "container abc is not running"}).encode()
    with pytest.raises(DockerError, match="container abc is not running"):
        await endpoint(engine).hijack("/exec/abc/start")


async def test_stdin_half_close_and_exit_code(engine: FakeEngine) -> None:
    proc = await process(engine, code=7)
    try:
        await proc.write_stdin(b"ping\n")
        await proc.close_stdin()
        await proc.write_stdin(b"after close\n")  # ignored, not an error
        out = b""
        while chunk := await proc.read_stdout():
            out += chunk
        assert out == b"early\nping\nstdin closed\n"
        assert await proc.read_stdout() == b""  # stays at end of stream
        assert await proc.wait() == 7
    finally:
        await proc.close()


async def test_tty_output_is_raw_and_resizes_pass_through(engine: FakeEngine) -> None:
    resized: list[tuple[int, int]] = []
    proc = await process(engine, tty=True, resized=resized)
    try:
        await proc.resize(120, 40)
        assert resized == [(120, 40)]
        assert await proc.read_stderr() == b""  # a terminal has one output
        assert (await proc.read_stdout()).startswith(frame(1, b"early\n")[:8])
    finally:
        await proc.close()


async def test_served_as_an_exec_session(engine: FakeEngine) -> None:
    transport = MemoryTransport()
    proc = await process(engine, code=3)
    transport.feed(b"\x00hello\n", b"\xff\x00")  # stdin, then v5's CLOSE of stdin
    try:
        await asyncio.wait_for(serve_exec(transport, "v5.channel.k8s.io", proc, stdin=True,
                                          stdout=True, stderr=True, tty=False), 10)
    finally:
        await proc.close()
    stdout = b"".join(m[1:] for m in transport.sent if m[0] == 1)
    stderr = b"".join(m[1:] for m in transport.sent if m[0] == 2)
    [status] = [json.loads(m[1:]) for m in transport.sent if m[0] == 3 and len(m) > 1]
    assert stdout == b"early\nhello\nstdin closed\n" and stderr == b"to stderr\n"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert transport.close_code == 1000


# -- the pod connector ---------------------------------------------------------------------------


@pytest.fixture
async def backend() -> AsyncIterator[int]:
    """A server on 127.0.0.1 only that answers each connection with what it read, reversed."""
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        writer.write(data[::-1])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


@pytest.fixture
def fake_nsenter(tmp_path: Path) -> str:
    script = tmp_path / "nsenter"
    script.write_text('#!/bin/sh\n[ "$1 $3" = "-t -n" ] || exit 99\nshift 3\nexec "$@"\n')
    script.chmod(0o755)
    return str(script)


async def roundtrip(connector: PodConnector, port: int) -> bytes:
    reader, writer = await connector(port)
    writer.write(b"olleh")
    await writer.drain()
    writer.write_eof()
    data = await reader.read()
    writer.close()
    return data


async def test_connects_to_the_pod_ip(backend: int) -> None:
    connector = PodConnector("127.0.0.1", 0, nsenter="")
    assert await roundtrip(connector, backend) == b"hello"


async def test_falls_back_to_a_relay_in_the_pods_netns(backend: int, fake_nsenter: str) -> None:
    # 127.0.0.2 refuses (the app listens on 127.0.0.1 only); inside the pod, localhost answers.
    connector = PodConnector("127.0.0.2", 4242, nsenter=fake_nsenter)
    try:
        assert await roundtrip(connector, backend) == b"hello"
    finally:
        await connector.close()
    assert not connector._relays


async def test_relay_reports_a_refused_port(backend: int, fake_nsenter: str) -> None:
    connector = PodConnector("127.0.0.2", 4242, nsenter=fake_nsenter)
    with pytest.raises(ConnectionRefusedError, match="in the pod's network namespace"):
        await connector(1)
    without = PodConnector("127.0.0.2", 4242, nsenter="")
    with pytest.raises(ConnectionRefusedError):
        await without(backend)
