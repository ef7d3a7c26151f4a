"""The client side of exec and port-forward, for the ``k8py`` CLI.

Exec speaks v5 (v4 as a fallback) of the channel framing: stdin is half-closed
with v5's CLOSE signal, a terminal is put in raw mode and its size follows
SIGWINCH. Port-forward listens locally and opens one channel-framed WebSocket
per accepted connection (``?ports=REMOTE``), which keeps each connection's end
independent of the others without a SPDY client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl as ssl_module
import sys
import termios
import threading
import tty as tty_module
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from machinery.errors import ApiError
from machinery.streams.channels import (
    CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT, V4_PROTOCOL, V5_PROTOCOL,
    encode_frame, exit_code_from_status,
)
from machinery.streams.websocket import connect_websocket

__all__ = ["exec_client", "portforward_client", "websocket_url"]

log = logging.getLogger(__name__)

_CHUNK = 32 * 1024


def websocket_url(url: str, **query: str) -> str:
    """``http(s)://`` to ``ws(s)://``, with ``query`` appended to any existing query."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    pairs = parse_qsl(parts.query, keep_blank_values=True) + list(query.items())
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(pairs), parts.fragment))


def _read_into(stream: IO[bytes], loop: asyncio.AbstractEventLoop,
               queue: asyncio.Queue[bytes | None]) -> None:
    """Blocking reads on a thread: stdin may be a file, a pipe or a terminal."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        fd = -1
    read1 = getattr(stream, "read1", None)
    try:
        while True:
            if fd >= 0:
                chunk = os.read(fd, _CHUNK)
            elif read1 is not None:
                chunk = read1(_CHUNK)
            else:
                chunk = stream.read(_CHUNK)
            loop.call_soon_threadsafe(queue.put_nowait, chunk or None)
            if not chunk:
                return
    except (OSError, ValueError):
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)
    except RuntimeError:  # the loop has closed: nobody is listening any more
        return


def _terminal_size(*streams: IO[bytes]) -> tuple[int, int] | None:
    """(columns, rows) of the first stream that is a terminal."""
    for stream in streams:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            size = os.get_terminal_size(stream.fileno())
            return size.columns, size.lines
    return None


@contextlib.contextmanager
def _raw_terminal(stream: IO[bytes], enabled: bool) -> Any:
    """Raw mode for the duration of a TTY session, restored however it ends."""
    fd = -1
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if enabled and stream.isatty():
            fd = stream.fileno()
    saved = termios.tcgetattr(fd) if fd >= 0 else None
    try:
        if saved is not None:
            # TCSANOW keeps what the user typed ahead; the default would discard it.
            tty_module.setraw(fd, termios.TCSANOW)
        yield
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def exec_client(
    url: str,
    headers: dict[str, str],
    *,
    stdin: bool,
    tty: bool,
    stdin_stream: IO[bytes] | None = None,
    stdout_stream: IO[bytes] | None = None,
    stderr_stream: IO[bytes] | None = None,
    ssl: ssl_module.SSLContext | None = None,
) -> int:
    """Run an exec/attach session and return the remote exit code.

    Streams default to this process's stdin/stdout/stderr (looked up at call
    time). Failures other than a non-zero exit raise ``ApiError``; a dropped
    connection raises ``ConnectionError``.
    """
    stdin_stream = stdin_stream or sys.stdin.buffer
    stdout_stream = stdout_stream or sys.stdout.buffer
    stderr_stream = stderr_stream or sys.stderr.buffer
    conn = await connect_websocket(websocket_url(url), headers, [V5_PROTOCOL, V4_PROTOCOL], ssl=ssl)
    protocol = conn.subprotocol or ""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    winch = False
    try:
        with _raw_terminal(stdin_stream, tty and stdin):
            if tty:
                # kubectl measures its output terminal; stdin's serves when output is piped
                winch = _watch_resize(conn, (stdout_stream, stdin_stream), tasks)
            if stdin:
                queue: asyncio.Queue[bytes | None] = asyncio.Queue()
                threading.Thread(target=_read_into, args=(stdin_stream, loop, queue),
                                 name="exec-stdin", daemon=True).start()
                tasks.append(asyncio.ensure_future(_send_stdin(conn, protocol, queue)))
            error = await _receive_output(conn, stdout_stream, stderr_stream)
    finally:
        if winch:
            loop.remove_signal_handler(signal.SIGWINCH)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()
    return exit_code_from_status(protocol, error)


def _watch_resize(
    conn: ClientConnection, terminals: tuple[IO[bytes], ...], tasks: list[asyncio.Task[None]],
) -> bool:
    """Send the terminal size now and on every SIGWINCH; True if the handler is installed."""

    def send_size() -> None:
        size = _terminal_size(*terminals)
        if size is not None:
            body = json.dumps({"Width": size[0], "Height": size[1]}).encode()
            tasks.append(asyncio.ensure_future(_send_quietly(conn, encode_frame(RESIZE, body))))

    send_size()
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGWINCH, send_size)
    except (RuntimeError, ValueError):  # not the main thread: no signals here
        return False
    return True


async def _send_quietly(conn: ClientConnection, data: bytes) -> None:
    with contextlib.suppress(ConnectionClosed):
        await conn.send(data)


async def _send_stdin(conn: ClientConnection, protocol: str, queue: asyncio.Queue[bytes | None]) -> None:
    while (chunk := await queue.get()) is not None:
        await _send_quietly(conn, encode_frame(STDIN, chunk))
    if protocol == V5_PROTOCOL:
        # Only v5 can say "no more input" without ending the whole session.
        await _send_quietly(conn, encode_frame(CLOSE, bytes((STDIN,))))


async def _receive_output(conn: ClientConnection, stdout: IO[bytes], stderr: IO[bytes]) -> bytes:
    """Copy output until the server closes; return what arrived on the error channel."""
    error = bytearray()
    try:
        async for message in conn:
            if isinstance(message, str) or not message:
                continue
            channel, payload = message[0], message[1:]
            if channel in (STDOUT, STDERR) and payload:
                target = stdout if channel == STDOUT else stderr
                target.write(payload)
                target.flush()
            elif channel == ERROR:
                error += payload
    except ConnectionClosedError as exc:
        raise ConnectionError(f"exec stream ended abnormally: {exc}") from exc
    return bytes(error)


async def portforward_client(
    url: str,
    headers: dict[str, str],
    ports: list[tuple[int, int]],
    *,
    address: str = "127.0.0.1",
    ready: asyncio.Event | None = None,
    ssl: ssl_module.SSLContext | None = None,
    on_listen: Callable[[int, int], None] | None = None,
) -> None:
    """Forward each ``(local, remote)`` port until cancelled.

    ``on_listen(local, remote)`` reports the bound port (useful with local 0);
    ``ready`` is set once every listener is up.
    """
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[None]] = set()

    def handler_for(remote: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]:
        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(
                _forward_connection(websocket_url(url, ports=str(remote)), headers, remote,
                                    reader, writer, ssl)
            )
            handlers.add(task)
            task.add_done_callback(handlers.discard)
        return accept

    try:
        for local, remote in ports:
            server = await asyncio.start_server(handler_for(remote), address, local)
            servers.append(server)
            if on_listen is not None:
                on_listen(server.sockets[0].getsockname()[1], remote)
        if ready is not None:
            ready.set()
        await asyncio.gather(*(server.serve_forever() for server in servers))
    finally:
        for server in servers:
            server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def _forward_connection(
    url: str, headers: dict[str, str], remote: int,
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ssl: ssl_module.SSLContext | None,
) -> None:
    try:
        conn = await connect_websocket(url, headers, [V4_PROTOCOL], ssl=ssl)
    except (ApiError, OSError, asyncio.TimeoutError) as exc:
        log.error("error forwarding port %d: %s", remote, exc)
        await _close_local(writer)
        return
    upstream = asyncio.ensure_future(_copy_local(reader, conn))
    try:
        await _copy_remote(conn, writer, remote)
    except (ConnectionError, ConnectionClosed):
        pass
    finally:
        upstream.cancel()
        await asyncio.gather(upstream, return_exceptions=True)
        await conn.close()
        await _close_local(writer)


async def _close_local(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _copy_local(reader: asyncio.StreamReader, conn: ClientConnection) -> None:
    # The channel framing has no half-close, so a local EOF just stops the
    # upload; the download goes on until the pod side closes.
    while chunk := await reader.read(_CHUNK):
        await conn.send(encode_frame(0, chunk))


async def _copy_remote(conn: ClientConnection, writer: asyncio.StreamWriter, remote: int) -> None:
    opened: set[int] = set()
    async for message in conn:
        if isinstance(message, str) or not message or message[0] > 1:
            continue
        channel, payload = message[0], message[1:]
        if channel not in opened:
            # Each channel's first frame is its port number, not data.
            opened.add(channel)
            continue
        if channel == 1:
            if payload:
                log.error("an error occurred forwarding port %d: %s", remote, payload.decode(errors="replace"))
                return
        elif payload:
            writer.write(payload)
            await writer.drain()
