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
from typing import Any, Protocol, runtime_checkable

__all__ = ["Transport", "TransportClosed", "StarletteTransport", "WebSocketsTransport", "Sender"]


class TransportClosed(ConnectionError):
    """Raised by ``send`` once the peer has gone; sessions treat it as a hang-up."""


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

    async def recv(self) -> bytes | None:
        if self._closed:
            return None
        try:
            message = await self._ws.receive()
        except (RuntimeError, OSError):
            self._closed = True
            return None
        if message["type"] == "websocket.disconnect":
            self._closed = True
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

    async def recv(self) -> bytes | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self._conn.recv()
        except ConnectionClosed:
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
