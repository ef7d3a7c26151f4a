"""Docker's streaming calls on asyncio connections: exec, attach and log frames.

The Docker SDK hands streams over as blocking sockets, to be read on threads
that an idle shell or a silent ``logs -f`` pins for hours and that a departing
client cannot interrupt. The engine's API is plain HTTP on a Unix (or TCP)
socket, so the streaming calls are made here on asyncio connections instead:
exec and attach are a ``POST`` upgraded to a raw stream (``Upgrade: tcp``),
whose output comes multiplexed in 8-byte-headed frames unless there is a TTY,
and whose write side half-closes to end the command's stdin. Short control
calls (exec create and inspect, resizes) stay on the runtime's SDK pool.

``DockerStreamProcess`` is the ``machinery.streams.ExecProcess`` the kubelet
server hands to ``serve_exec`` for both exec and attach.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import docker.errors
import httpx

from kubelet.runtime import ContainerInfo, DockerError, DockerRuntime

__all__ = ["DockerEndpoint", "FrameDecoder", "DockerStreamProcess", "start_exec",
           "start_attach", "STDOUT", "STDERR"]

STDOUT, STDERR = 1, 2
_CHUNK = 64 * 1024
_HEADER = struct.Struct(">BxxxL")
_QUEUE_DEPTH = 64  # chunks buffered per output before the socket stops being read


class DockerEndpoint:
    """Where the engine listens (``unix://`` or ``tcp://``) and the API version to speak."""

    def __init__(self, docker_host: str, api_version: str) -> None:
        parts = urlsplit(docker_host)
        if parts.scheme == "unix":
            self.uds: str | None = parts.path
            self.base_url = "http://docker"
            self._address: tuple[str, int] | None = None
        elif parts.scheme in ("tcp", "http"):
            self.uds = None
            self._address = (parts.hostname or "127.0.0.1", parts.port or 2375)
            self.base_url = f"http://{self._address[0]}:{self._address[1]}"
        else:
            raise ValueError(f"streaming needs a unix:// or tcp:// Docker host, not {docker_host!r}")
        self.prefix = f"/v{api_version}"

    @classmethod
    def for_runtime(cls, docker_host: str, runtime: DockerRuntime) -> DockerEndpoint:
        return cls(docker_host, str(runtime.api.api_version))

    def http_client(self) -> httpx.AsyncClient:
        """A client for plain streaming responses (logs); no timeout between chunks."""
        transport = httpx.AsyncHTTPTransport(uds=self.uds) if self.uds else None
        return httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                 timeout=httpx.Timeout(10.0, read=None))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.uds is not None:
            return await asyncio.open_unix_connection(self.uds, limit=_CHUNK)
        assert self._address is not None
        return await asyncio.open_connection(*self._address, limit=_CHUNK)

    async def hijack(self, path: str, query: dict[str, str] | None = None,
                     body: dict[str, Any] | None = None,
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``POST`` with ``Upgrade: tcp``; the connection then carries the process's streams.

        Bytes that follow the response head stay in the reader, so no early
        output is lost (the SDK's buffered HTTP reader can swallow them).
        """
        target = self.prefix + path + (f"?{urlencode(query)}" if query else "")
        payload = json.dumps(body or {}).encode()
        reader, writer = await self._open()
        try:
            writer.write(
                f"POST {target} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
                f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status = int(head.split(" ", 2)[1])
            if status not in (101, 200):
                raise _hijack_error(status, await _error_body(head, reader))
        except BaseException:
            writer.close()
            raise
        return reader, writer


async def _error_body(head: str, reader: asyncio.StreamReader) -> str:
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    try:
        raw = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
        return str(json.loads(raw).get("message") or raw.decode(errors="replace"))
    except (ValueError, AttributeError, asyncio.IncompleteReadError, TimeoutError):
        return f"Docker answered {head.splitlines()[0]}"


def _hijack_error(status: int, message: str) -> Exception:
    if status == 404:
        missing: Exception = docker.errors.NotFound(message)
        return missing
    return DockerError(message)


class FrameDecoder:
    """Splits Docker's multiplexed stream (``[stream, 0, 0, 0, size:u32be] payload``).

    Fed arbitrary chunks; returns the complete ``(stream, payload)`` frames so
    far. Exec, attach and logs without a TTY all arrive in this framing.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append((stream, bytes(self._buffer[_HEADER.size:end])))
            del self._buffer[:end]
        return frames


class DockerStreamProcess:
    """An exec or attach session over one hijacked Docker connection.

    A reader task splits the connection's output into stdout and stderr
    queues (bounded, so a slow client slows the socket rather than growing
    memory); ``wait`` returns once output has ended and ``exit_code`` has
    answered. ``close`` drops the connection, which ends an interactive
    command's stdin as a hang-up would.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tty: bool,
                 resize: Callable[[int, int], Awaitable[None]],
                 exit_code: Callable[[], Awaitable[int]]) -> None:
        self._writer = writer
        self._tty = tty
        self._resize = resize
        self._exit_code = exit_code
        self._stdout: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE_DEPTH)
        self._stderr: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE_DEPTH)
        self._stdin_closed = False
        self._reading = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder()
        try:
            while chunk := await reader.read(_CHUNK):
                if self._tty:
                    await self._stdout.put(chunk)
                    continue
                for stream, payload in decoder.feed(chunk):
                    if payload:
                        await (self._stderr if stream == STDERR else self._stdout).put(payload)
        except (ConnectionError, OSError):
            pass  # a reset ends the output like an orderly close
        except asyncio.CancelledError:
            for queue in (self._stdout, self._stderr):
                _put_end(queue)
            raise
        # b"" tells each reader the stream has ended.
        for queue in (self._stdout, self._stderr):
            await queue.put(b"")

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin_closed:
            await self._send(data)

    async def close_stdin(self) -> None:
        if self._stdin_closed:
            return
        self._stdin_closed = True
        if self._tty:
            # A terminal has no half-close; EOT at the start of a line is its EOF.
            await self._send(b"\x04")
            return
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if self._writer.can_write_eof() and not self._writer.is_closing():
                self._writer.write_eof()

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        with contextlib.suppress(ConnectionError, OSError):
            self._writer.write(data)
            await self._writer.drain()

    async def read_stdout(self) -> bytes:
        return await _next(self._stdout)

    async def read_stderr(self) -> bytes:
        if self._tty:
            return b""  # a terminal merges stderr into its one output
        return await _next(self._stderr)

    async def resize(self, width: int, height: int) -> None:
        if self._tty:
            await self._resize(width, height)

    async def wait(self) -> int:
        await asyncio.shield(self._reading)
        return await self._exit_code()

    async def close(self) -> None:
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


def _put_end(queue: asyncio.Queue[bytes]) -> None:
    """End a queue whose reader may have stopped: what it did not take is dropped."""
    while True:
        try:
            queue.put_nowait(b"")
            return
        except asyncio.QueueFull:
            queue.get_nowait()


async def _next(queue: asyncio.Queue[bytes]) -> bytes:
    chunk = await queue.get()
    if not chunk:
        queue.put_nowait(b"")  # stay at end of stream for later calls
    return chunk


async def start_exec(runtime: DockerRuntime, endpoint: DockerEndpoint, container_id: str,
                     command: list[str], *, stdin: bool, stdout: bool, stderr: bool,
                     tty: bool) -> DockerStreamProcess:
    """Create and start a Docker exec; raises ``DockerError`` if Docker refuses it."""
    try:
        created = await runtime.call(runtime.api.exec_create, container_id, command, stdin=stdin,
                                     stdout=stdout or tty, stderr=stderr, tty=tty)
    except docker.errors.NotFound as exc:
        raise DockerError(str(exc.explanation or exc)) from exc
    exec_id = str(created["Id"])
    reader, writer = await endpoint.hijack(f"/exec/{exec_id}/start",
                                           body={"Detach": False, "Tty": tty})

    async def resize(width: int, height: int) -> None:
        with contextlib.suppress(DockerError, docker.errors.NotFound):
            await runtime.call(runtime.api.exec_resize, exec_id, height=height, width=width)

    async def exit_code() -> int:
        # The output can end a moment before Docker records the exit.
        for _ in range(100):
            info = await runtime.call(runtime.api.exec_inspect, exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.05)
        raise DockerError(f"exec {exec_id[:12]} did not report an exit code")

    return DockerStreamProcess(reader, writer, tty=tty, resize=resize, exit_code=exit_code)


async def start_attach(runtime: DockerRuntime, endpoint: DockerEndpoint, info: ContainerInfo, *,
                       stdin: bool, stdout: bool, stderr: bool) -> DockerStreamProcess:
    """Attach to a container's main process; its TTY is whatever the container has.

    Attach reports no exit code (as with CRI): the session succeeds when the
    container's output ends; ``kubectl run -i`` reads the code from the pod.
    """
    tty = bool((info.raw.get("Config") or {}).get("Tty"))
    query = {"stream": "1", "stdin": str(int(stdin)), "stdout": str(int(stdout or tty)),
             "stderr": str(int(stderr))}
    reader, writer = await endpoint.hijack(f"/containers/{info.id}/attach", query)

    async def resize(width: int, height: int) -> None:
        with contextlib.suppress(DockerError, docker.errors.NotFound):
            await runtime.call(runtime.api.resize, info.id, height=height, width=width)

    async def exit_code() -> int:
        return 0

    return DockerStreamProcess(reader, writer, tty=tty, resize=resize, exit_code=exit_code)
