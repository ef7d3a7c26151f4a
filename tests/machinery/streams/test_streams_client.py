"""The CLI's exec_client and portforward_client against the fake API server."""

from __future__ import annotations

import asyncio
import io
import signal
from urllib.parse import urlencode
from http.server import ThreadingHTTPServer

import pytest
from tests.machinery.streams.streams_fakeapi import POD, FakeApiServer, free_port

from machinery import errors
from machinery.streams import exec_client, portforward_client, websocket_url

pytestmark = pytest.mark.timeout(60)


def exec_url(api: FakeApiServer, *command: str, pod: str = POD, **flags: str) -> str:
    query = urlencode([("command", c) for c in command] + list(flags.items()))
    return f"{api.url}/api/v1/namespaces/default/pods/{pod}/exec?{query}"


def test_websocket_url() -> None:
    assert websocket_url("https://h:6443/p?a=1", ports="80") == "wss://h:6443/p?a=1&ports=80"
    assert websocket_url("http://h/p") == "ws://h/p"


async def test_exec_client_streams_and_exit_code(fake_api: FakeApiServer) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    code = await exec_client(exec_url(fake_api, "sh", "-c", "echo out; echo err >&2; exit 7",
                                      stdout="true", stderr="true"),
                             {}, stdin=False, tty=False, stdout_stream=out, stderr_stream=err)
    assert (code, out.getvalue(), err.getvalue()) == (7, b"out\n", b"err\n")
    assert fake_api.requests[-1].subprotocols == ["v5.channel.k8s.io", "v4.channel.k8s.io"]


async def test_exec_client_sends_stdin_and_half_closes(fake_api: FakeApiServer) -> None:
    data = b"".join(b"%05d\n" % i for i in range(20000))
    out = io.BytesIO()
    code = await exec_client(exec_url(fake_api, "cat", stdin="true", stdout="true", stderr="true"), {},
                             stdin=True, tty=False, stdin_stream=io.BytesIO(data), stdout_stream=out,
                             stderr_stream=io.BytesIO())
    assert code == 0
    assert out.getvalue() == data


async def test_exec_client_with_tty_but_no_terminal(fake_api: FakeApiServer) -> None:
    out = io.BytesIO()
    code = await exec_client(exec_url(fake_api, "sh", "-c", "tty >/dev/null && echo tty", tty="true",
                                      stdout="true"), {}, stdin=False, tty=True, stdout_stream=out)
    assert code == 0
    assert out.getvalue() == b"tty\r\n"  # the remote terminal translates newlines


async def test_exec_client_raises_the_server_status(fake_api: FakeApiServer) -> None:
    with pytest.raises(errors.NotFound, match='pods "nope" not found'):
        await exec_client(exec_url(fake_api, "true", pod="nope", stdout="true"), {}, stdin=False, tty=False,
                          stdout_stream=io.BytesIO())
    with pytest.raises(errors.InternalError, match="failed to start"):
        await exec_client(exec_url(fake_api, "/nonexistent", stdout="true"), {}, stdin=False, tty=False,
                          stdout_stream=io.BytesIO())


async def fetch(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return response.partition(b"\r\n\r\n")[2]


async def test_portforward_client_forwards_each_connection(fake_api: FakeApiServer,
                                                           backend: ThreadingHTTPServer) -> None:
    remote = backend.server_address[1]
    fixed = free_port()
    bound: list[tuple[int, int]] = []
    ready = asyncio.Event()
    url = f"{fake_api.url}/api/v1/namespaces/default/pods/{POD}/portforward"
    fake_api.requests.clear()
    task = asyncio.ensure_future(portforward_client(url, {}, [(fixed, remote), (0, remote)], ready=ready,
                                                    on_listen=lambda local, r: bound.append((local, r))))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        assert bound[0] == (fixed, remote) and bound[1][0] not in (0, fixed)
        bodies = await asyncio.gather(*(fetch(port, f"/p{i}") for i, port in
                                        enumerate([fixed, bound[1][0]] * 3)))
        assert sorted(b.split()[1] for b in bodies) == sorted(f"/p{i}".encode() for i in range(6))
        assert len(await fetch(fixed, "/big")) == 1 << 20
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    sockets = [r for r in fake_api.requests if r.kind == "websocket"]
    assert len(sockets) == 7  # one WebSocket per local connection
    assert all(r.query == f"ports={remote}" and r.subprotocols == ["v4.channel.k8s.io"] for r in sockets)
    # the listeners are gone once the task is cancelled
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", fixed)


async def test_portforward_client_closes_connections_it_cannot_forward(fake_api: FakeApiServer) -> None:
    dead = free_port()
    ready = asyncio.Event()
    local = free_port()
    url = f"{fake_api.url}/api/v1/namespaces/default/pods/{POD}/portforward"
    task = asyncio.ensure_future(portforward_client(url, {}, [(local, dead)], ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        assert await asyncio.wait_for(fetch(local, "/"), 10) == b""
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_exec_client_on_a_terminal_goes_raw_and_follows_sigwinch(fake_api: FakeApiServer) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    def set_size(fd: int, rows: int, cols: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    master, slave = pty.openpty()
    set_size(slave, 24, 80)
    before = termios.tcgetattr(slave)
    terminal = os.fdopen(slave, "r+b", buffering=0)
    # Report sizes as they change; finish once the terminal is 50x150.
    script = ('last=; for i in $(seq 200); do s=$(stty size); [ "$s" != "$last" ] && echo "size=$s"; '
              'last=$s; [ "$s" = "50 150" ] && exit 4; sleep 0.02; done; exit 1')
    out = io.BytesIO()
    session = asyncio.ensure_future(exec_client(
        exec_url(fake_api, "sh", "-c", script, stdin="true", stdout="true", tty="true"), {},
        stdin=True, tty=True, stdin_stream=terminal, stdout_stream=out))
    try:
        for _ in range(200):
            if b"size=24 80" in out.getvalue():
                break
            await asyncio.sleep(0.02)
        raw = termios.tcgetattr(slave)
        assert not raw[3] & termios.ECHO and not raw[3] & termios.ICANON  # raw mode while running
        set_size(slave, 50, 150)
        os.kill(os.getpid(), signal.SIGWINCH)
        assert await asyncio.wait_for(session, 20) == 4
        assert termios.tcgetattr(slave) == before  # restored afterwards
    finally:
        session.cancel()
        os.close(master)  # ends the stdin reader thread (EIO)
        terminal.close()
    assert b"size=24 80" in out.getvalue() and b"size=50 150" in out.getvalue()
