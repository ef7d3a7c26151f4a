"""In-memory transport and a tiny SPDY client, to drive sessions without sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from machinery.streams import spdy
from machinery.streams.transport import TransportClosed


class MemoryTransport:
    """The server's side of a WebSocket; the test plays the client."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.close_code: int | None = None
        self._changed = asyncio.Condition()

    async def recv(self) -> bytes | None:
        if self.close_code is not None:
            return None
        return await self.inbox.get()

    async def send(self, data: bytes) -> None:
        if self.close_code is not None:
            raise TransportClosed("closed")
        self.sent.append(bytes(data))
        async with self._changed:
            self._changed.notify_all()

    async def close(self, code: int = 1000) -> None:
        self.close_code = code
        async with self._changed:
            self._changed.notify_all()

    def feed(self, *messages: bytes) -> None:
        for message in messages:
            self.inbox.put_nowait(message)

    def hang_up(self) -> None:
        self.inbox.put_nowait(None)

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        """Until ``predicate()`` holds: re-checked on every send and at least every 20 ms."""
        async def check() -> None:
            async with self._changed:
                while not predicate():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.02)

        await asyncio.wait_for(check(), timeout)


class SpdyClient:
    """Plays kubectl's half of a tunnelled SPDY port-forward connection."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.writer = spdy.FrameWriter()
        self.reader = spdy.FrameReader()
        self.frames: list[spdy.Frame] = []
        self._decoded = 0
        self.next_id = 1

    def send(self, *frames: spdy.Frame, split: int | None = None) -> None:
        """Queue frames; ``split`` cuts the bytes into messages of that size."""
        data = b"".join(self.writer.encode(f) for f in frames)
        if split is None:
            self.transport.feed(data)
        else:
            self.transport.feed(*(data[i:i + split] for i in range(0, len(data), split)))

    def open(self, port: int, request_id: str) -> tuple[int, int]:
        error_id, data_id = self.next_id, self.next_id + 2
        self.next_id += 4
        for sid, kind in ((error_id, "error"), (data_id, "data")):
            headers = {"streamtype": [kind], "port": [str(port)], "requestid": [request_id]}
            self.send(spdy.SynStreamFrame(sid, headers))
        self.send(spdy.DataFrame(error_id, fin=True))
        return error_id, data_id

    def received(self) -> list[spdy.Frame]:
        while self._decoded < len(self.transport.sent):
            self.frames.extend(self.reader.feed(self.transport.sent[self._decoded]))
            self._decoded += 1
        return self.frames

    def data(self, stream_id: int) -> bytes:
        return b"".join(f.data for f in self.received()
                        if isinstance(f, spdy.DataFrame) and f.stream_id == stream_id)

    def finished(self, stream_id: int) -> bool:
        return any(isinstance(f, spdy.DataFrame) and f.stream_id == stream_id and f.fin
                   for f in self.received())

    async def wait(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        await self.transport.wait_until(lambda: (self.received(), predicate())[1], timeout)


@asynccontextmanager
async def tcp_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
) -> AsyncIterator[int]:
    """A real TCP server on 127.0.0.1 in this loop; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def upper_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echoes in upper case as data arrives; closes once the client half-closes."""
    while chunk := await reader.read(65536):
        writer.write(chunk.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()
