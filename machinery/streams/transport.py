"""The message transport every streaming session runs over.

Exec, attach and port-forward sessions are served by the kubelet and relayed
by the API server frame for frame, so the session code must not care whether
its peer is a Starlette WebSocket (server side) or a ``websockets`` client
connection (the CLI, or the API server dialling a kubelet). Both are wrapped
in the same three-call ``Transport`` protocol; a peer that has gone away shows
up as ``recv() -> None`` or as ``TransportClosed`` from ``send``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Transport", "TransportClosed", "StarletteTransport", "WebSocketsTransport", "Sender",
    "until_first", "relay",
]


class TransportClosed(ConnectionError):
    """Raised by ``send`` once the peer has gone; sessions treat it as a hang-up."""


# Close codes a peer may receive but that must never be sent in a close frame
# (RFC 6455 7.4.1: "no status", "abnormal closure", "TLS failure").
_UNSENDABLE_CODES = (1005, 1006, 1015)


@runtime_checkable
class Transport(Protocol):
    """One binary WebSocket message per call, in both directions."""

    async def recv(self) -> bytes | None:
        """The next message, or ``None`` once the peer has closed."""
        ...

    async def send(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000) -> None: ...


class StarletteTransport:
    """A Starlette WebSocket that the caller has already accepted."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._closed = False
        # The peer's close code once it has gone (1006 when it just dropped).
        self.close_code: int | None = None

    async def recv(self) -> bytes | None:
        if self._closed:
            return None
        try:
            message = await self._ws.receive()
        except (RuntimeError, OSError):
            self._closed = True
            self.close_code = self.close_code or 1006
            return None
        if message["type"] == "websocket.disconnect":
            self._closed = True
            self.close_code = int(message.get("code") or 1005)
            return None
        data = message.get("bytes")
        if data is None:
            # Text frames only appear with the base64 subprotocols, which are not
            # negotiated; hand the raw text on rather than dropping it.
            data = (message.get("text") or "").encode()
        return bytes(data)

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise TransportClosed("websocket already closed")
        try:
            await self._ws.send_bytes(data)
        except Exception as exc:  # uvicorn raises several types once the socket is gone
            self._closed = True
            raise TransportClosed(str(exc) or type(exc).__name__) from exc

    async def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._ws.close(code=code)
        except Exception:  # noqa: BLE001 - closing an already dead socket is not an error
            pass


class WebSocketsTransport:
    """A connection from the ``websockets`` package (client or server side)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.close_code: int | None = None

    async def recv(self) -> bytes | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self._conn.recv()
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd is not None else 1006
            return None
        return message.encode() if isinstance(message, str) else bytes(message)

    async def send(self, data: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._conn.send(data)
        except ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from exc

    async def close(self, code: int = 1000) -> None:
        await self._conn.close(code=code)


class Sender:
    """Serialises sends from the several tasks of one session.

    A session pumps stdout, stderr and control replies from separate tasks;
    not every ASGI server tolerates overlapping ``send`` calls on one socket.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        # Held across encode-and-send where encoding is stateful (SPDY header
        # compression), so that wire order matches encoding order.
        self.lock = asyncio.Lock()

    async def __call__(self, data: bytes) -> None:
        async with self.lock:
            await self.transport.send(data)

    async def close(self, code: int = 1000) -> None:
        async with self.lock:
            await self.transport.close(code)


async def until_first(*coroutines: Coroutine[Any, Any, Any]) -> list[asyncio.Task[Any]]:
    """Run the coroutines until one ends; cancel and reap the rest.

    A session ends either way round (the command finishes or the client hangs
    up), and the loser must not outlive it. Returns the tasks in argument
    order, all done, so callers can see which ended first (``not cancelled()``).
    """
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tasks


async def relay(client: Transport, backend: Transport) -> None:
    """Copy messages both ways, frame for frame, until one side ends; close the other.

    This is the API server's part in exec, attach and port-forward: it neither
    parses nor re-frames, so every subprotocol passes through unchanged. The
    close code travels too (kubectl reads a missing 1000 as a failure); a
    peer that simply dropped becomes 1011 on the other side.
    """

    async def pump(source: Transport, sink: Transport) -> tuple[Transport, int | None]:
        try:
            while (message := await source.recv()) is not None:
                await sink.send(message)
        except ConnectionError:  # the sink went away first
            return source, getattr(sink, "close_code", None)
        return sink, getattr(source, "close_code", None)

    up, down = await until_first(pump(client, backend), pump(backend, client))
    ended = up if not up.cancelled() else down
    if ended.cancelled() or ended.exception() is not None:
        await asyncio.gather(client.close(1011), backend.close(1011), return_exceptions=True)
        return
    survivor, code = ended.result()
    if code is None or code in _UNSENDABLE_CODES:
        code = 1011
    try:
        await survivor.close(code)
    except Exception:  # noqa: BLE001 - it may have gone at the same moment
        pass
