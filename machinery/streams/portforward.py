"""The server side of port-forward sessions, in both dialects clients speak.

kubectl 1.32 tunnels SPDY/3.1 through the WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``): every local connection it accepts becomes a
pair of SPDY streams, ``error`` and ``data``, tied by a ``requestid`` header.
The official Python client and kr8s use the older channel framing instead
(``v4.channel.k8s.io``, or no subprotocol): one WebSocket per set of
``?ports=``, channel 2i carrying data and 2i+1 errors for ports[i]. Either way
each forwarded connection reaches the pod through the caller's ``connect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from machinery.streams import spdy
from machinery.streams.channels import V4_PROTOCOL, encode_frame
from machinery.streams.transport import Sender, Transport, until_first

__all__ = [
    "SPDY_PORTFORWARD_PROTOCOL", "PORTFORWARD_PROTOCOLS", "Connector",
    "negotiate_portforward_protocol", "parse_ports", "serve_portforward",
]

log = logging.getLogger(__name__)

SPDY_PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
PORTFORWARD_PROTOCOLS: tuple[str, ...] = (SPDY_PORTFORWARD_PROTOCOL, V4_PROTOCOL)

Connector = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

_CHUNK = 32 * 1024


def negotiate_portforward_protocol(offered: list[str]) -> str | None:
    """SPDY for kubectl, channel framing for the rest; "" when nothing was offered."""
    wanted = [p.strip() for p in offered if p.strip()]
    if not wanted:
        return ""
    return next((p for p in PORTFORWARD_PROTOCOLS if p in wanted), None)


def parse_ports(values: Iterable[str]) -> list[int]:
    """The ``ports`` query values (repeatable, comma separated), as the kubelet reads them."""
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise ValueError(f"unable to parse {part!r} as a port") from None
            if not 0 < port < 65536:
                raise ValueError(f"port {part!r} must be between 1 and 65535")
            ports.append(port)
    return ports


async def serve_portforward(
    transport: Transport, protocol: str, connect: Connector, *, ports: list[int],
) -> None:
    """Serve one port-forward WebSocket until the client closes it.

    With SPDY, ``ports`` (when not empty) limits which ports a stream may ask
    for. With the channel framing it is the required list from ``?ports=``.
    """
    if protocol == SPDY_PORTFORWARD_PROTOCOL:
        await _SpdySession(transport, connect, ports).run()
    elif protocol in (V4_PROTOCOL, ""):
        if not ports:
            raise ValueError('query parameter "port" is required')
        await _serve_channels(Sender(transport), connect, ports)
    else:
        raise ValueError(f"unsupported port-forward protocol {protocol!r}")


def _forward_error(port: int, exc: BaseException) -> str:
    return f"error forwarding port {port}: {exc or type(exc).__name__}"


async def _copy_in(inbound: asyncio.Queue[bytes | None], writer: asyncio.StreamWriter) -> None:
    """Client bytes into the pod connection; ``None`` is the client's half-close."""
    while (chunk := await inbound.get()) is not None:
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _pump_connection(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    inbound: asyncio.Queue[bytes | None],
    deliver: Callable[[bytes], Awaitable[None]],
) -> None:
    """Pump both directions until the pod side ends its output.

    The pod closing its side ends the forward (as in containerd's forwarder);
    the client half-closing only half-closes the pod connection.
    """
    reader, writer = connection
    upstream = asyncio.ensure_future(_copy_in(inbound, writer))
    try:
        while chunk := await reader.read(_CHUNK):
            await deliver(chunk)
    except ConnectionResetError:
        pass
    finally:
        upstream.cancel()
        await asyncio.gather(upstream, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# -- channel framing (v4.channel.k8s.io) -------------------------------------------------


async def _serve_channels(send: Sender, connect: Connector, ports: list[int]) -> None:
    inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]

    async def forward(index: int, port: int) -> None:
        data, error = 2 * index, 2 * index + 1
        try:
            connection = await connect(port)
        except Exception as exc:  # noqa: BLE001 - reported to the client, not raised
            await send(encode_frame(error, _forward_error(port, exc).encode()))
            return

        async def deliver(chunk: bytes) -> None:
            await send(encode_frame(data, chunk))

        await _pump_connection(connection, inbound[index], deliver)

    async def receive() -> None:
        while (message := await send.transport.recv()) is not None:
            if message and message[0] % 2 == 0 and message[0] // 2 < len(ports):
                inbound[message[0] // 2].put_nowait(message[1:])

    try:
        # Every channel opens with its port (uint16, little endian): the Python
        # client refuses a channel whose first frame is anything else.
        for index, port in enumerate(ports):
            prefix = port.to_bytes(2, "little")
            await send(encode_frame(2 * index, prefix))
            await send(encode_frame(2 * index + 1, prefix))
    except ConnectionError:
        return
    async def forward_all() -> None:
        await asyncio.gather(*(forward(i, p) for i, p in enumerate(ports)), return_exceptions=True)

    _, receiving = await until_first(forward_all(), receive())
    if receiving.cancelled():  # every pod connection ended while the client stayed
        with contextlib.suppress(ConnectionError):
            await send.close(1000)


# -- SPDY/3.1 over the WebSocket ------------------------------------------------------------


class _Forward:
    """One forwarded connection: an error stream and a data stream, tied by requestid."""

    def __init__(self, request_id: str, port: int) -> None:
        self.request_id = request_id
        self.port = port
        self.error_id: int | None = None
        self.data_id: int | None = None
        self.inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


class _SpdySession:
    def __init__(self, transport: Transport, connect: Connector, ports: list[int]) -> None:
        self.send = Sender(transport)
        self.connect = connect
        self.ports = set(ports)
        self.reader = spdy.FrameReader()
        self.writer = spdy.FrameWriter()
        self.forwards: dict[str, _Forward] = {}
        self.by_stream: dict[int, _Forward] = {}
        self.going_away = False

    async def run(self) -> None:
        try:
            while (message := await self.send.transport.recv()) is not None:
                for frame in self.reader.feed(message):
                    await self._handle(frame)
        except spdy.SpdyProtocolError as exc:
            log.warning("port-forward: %s", exc)
            with contextlib.suppress(ConnectionError):
                await self._write(spdy.GoAwayFrame(max(self.by_stream, default=0), 1))
                await self.send.close(1002)
        except ConnectionError:
            pass
        finally:
            tasks = [f.task for f in self.forwards.values() if f.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _write(self, frame: spdy.Frame) -> None:
        # Encoding and sending happen under one lock: header blocks share a
        # compression context, so their order on the wire must match.
        async with self.send.lock:
            await self.send.transport.send(self.writer.encode(frame))

    async def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.SynStreamFrame):
            await self._open(frame)
        elif isinstance(frame, spdy.DataFrame):
            forward = self.by_stream.get(frame.stream_id)
            if forward is not None and frame.stream_id == forward.data_id:
                if frame.data:
                    forward.inbound.put_nowait(frame.data)
                if frame.fin:
                    forward.inbound.put_nowait(None)
        elif isinstance(frame, spdy.RstStreamFrame):
            forward = self.by_stream.get(frame.stream_id)
            if forward is not None:
                self._drop(forward)
                if forward.task is not None:
                    forward.task.cancel()
        elif isinstance(frame, spdy.PingFrame):
            if frame.ping_id % 2 == 1:  # the client's pings are odd; answer them
                await self._write(frame)
        elif isinstance(frame, spdy.GoAwayFrame):
            self.going_away = True
        # SETTINGS, WINDOW_UPDATE, HEADERS and unknown types carry nothing we need.

    async def _open(self, frame: spdy.SynStreamFrame) -> None:
        sid = frame.stream_id
        headers = {k: v[0] for k, v in frame.headers.items() if v}
        kind = headers.get("streamtype", "")
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            port = 0
        if self.going_away:
            await self._write(spdy.RstStreamFrame(sid, spdy.RST_REFUSED_STREAM))
            return
        if kind not in ("error", "data") or not 0 < port < 65536 or sid in self.by_stream:
            await self._write(spdy.RstStreamFrame(sid, spdy.RST_PROTOCOL_ERROR))
            return
        # Clients that predate the requestid header open error then data stream
        # back to back; their ids differ by 2 (the kubelet's own fallback).
        request_id = headers.get("requestid") or str(sid if kind == "error" else sid - 2)
        forward = self.forwards.setdefault(request_id, _Forward(request_id, port))
        if kind == "error":
            forward.error_id = sid
        else:
            forward.data_id = sid
        self.by_stream[sid] = forward
        await self._write(spdy.SynReplyFrame(sid))
        if forward.error_id is not None and forward.data_id is not None and forward.task is None:
            forward.task = asyncio.ensure_future(self._run_forward(forward))

    def _drop(self, forward: _Forward) -> None:
        self.forwards.pop(forward.request_id, None)
        for sid in (forward.error_id, forward.data_id):
            if sid is not None:
                self.by_stream.pop(sid, None)

    async def _run_forward(self, forward: _Forward) -> None:
        assert forward.error_id is not None and forward.data_id is not None
        error_id, data_id = forward.error_id, forward.data_id
        try:
            with contextlib.suppress(ConnectionError):
                await self._forward(forward, error_id, data_id)
                # The client waits for the end of both streams before it lets go.
                await self._write(spdy.DataFrame(data_id, fin=True))
                await self._write(spdy.DataFrame(error_id, fin=True))
        finally:
            self._drop(forward)

    async def _forward(self, forward: _Forward, error_id: int, data_id: int) -> None:
        try:
            if self.ports and forward.port not in self.ports:
                raise PermissionError(f"port {forward.port} is not forwarded by this session")
            connection = await self.connect(forward.port)
        except Exception as exc:  # noqa: BLE001 - reported on the error stream
            await self._write(spdy.DataFrame(error_id, _forward_error(forward.port, exc).encode()))
            return

        async def deliver(chunk: bytes) -> None:
            await self._write(spdy.DataFrame(data_id, chunk))

        await _pump_connection(connection, forward.inbound, deliver)
