"""Tiny HTTP/1.1 backends on 127.0.0.1 for the proxy tests, written on raw asyncio streams.

Raw streams rather than a framework, so a test controls framing exactly:
``/echo`` answers with what it received (as JSON), ``/chunked`` streams
three chunks and waits for ``release`` between the first and the rest,
``/close`` ends its body by closing, ``/slow`` delays its head, ``/hangup``
and ``/reset`` end the connection without answering (a ``broken`` backend
does so for every path), ``/upgrade``
switches protocols and then echoes bytes, and ``Expect: 100-continue`` is
honoured before the body is read.
"""

from __future__ import annotations

import asyncio
import json

__all__ = ["Backend"]


class Backend:
    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.broken = broken
        self.port = 0
        self.release = asyncio.Event()
        self.requests = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> Backend:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return body
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        return await reader.readexactly(int(headers.get("content-length", "0")))

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        self.requests += 1
        lines = raw.decode("latin-1").split("\r\n")[:-2]
        method, path, _ = lines[0].split(" ", 2)
        if self.broken:
            path = "/reset"
        pairs = [line.split(":", 1) for line in lines[1:]]
        headers = {k.strip().lower(): v.strip() for k, v in pairs}
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if path == "/hangup":
            return False  # closes without a word, as a pod being killed does
        if path == "/reset":
            writer.transport.abort()
            return False
        if path == "/slow":
            await asyncio.sleep(2)
        if path == "/upgrade":
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                         b"Connection: Upgrade\r\n\r\n")
            while data := await reader.read(1024):
                writer.write(data.upper())
            return False
        body = await self._body(reader, headers)
        if path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await self.release.wait()
            writer.write(b"6\r\nsecond\r\n5\r\nthird\r\n0\r\n\r\n")
            return True
        if path == "/close":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
            return False
        payload = json.dumps({"backend": self.name, "method": method, "path": path,
                              "headers": headers, "body": body.decode()}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(payload))
        if method != "HEAD":
            writer.write(payload)
        await writer.drain()
        return headers.get("connection", "").lower() != "close"
