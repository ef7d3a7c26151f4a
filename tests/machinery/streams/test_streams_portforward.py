"""serve_portforward over an in-memory transport against real local TCP servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from tests.machinery.streams.streams_memory import MemoryTransport, SpdyClient, tcp_server, upper_echo

from machinery.streams import SPDY_PORTFORWARD_PROTOCOL, serve_portforward, spdy
from machinery.streams.channels import V4_PROTOCOL

pytestmark = pytest.mark.timeout(30)


async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


@contextlib.asynccontextmanager
async def spdy_session(ports: list[int] | None = None) -> AsyncIterator[tuple[SpdyClient, asyncio.Task[None]]]:
    transport = MemoryTransport()
    task = asyncio.ensure_future(serve_portforward(transport, SPDY_PORTFORWARD_PROTOCOL, dial,
                                                   ports=ports or []))
    try:
        yield SpdyClient(transport), task
    finally:
        transport.hang_up()
        await asyncio.wait_for(task, 5)


async def test_concurrent_connections_are_multiplexed() -> None:
    async with tcp_server(upper_echo) as port, spdy_session() as (client, _):
        first = client.open(port, "0")
        second = client.open(port, "1")
        # interleaved data on both data streams
        client.send(spdy.DataFrame(first[1], b"one-a "), spdy.DataFrame(second[1], b"two-a "))
        client.send(spdy.DataFrame(first[1], b"one-b"), spdy.DataFrame(second[1], b"two-b"))
        await client.wait(lambda: client.data(first[1]) == b"ONE-A ONE-B"
                          and client.data(second[1]) == b"TWO-A TWO-B")
        replies = {f.stream_id for f in client.received() if isinstance(f, spdy.SynReplyFrame)}
        assert replies == {*first, *second}
        assert not client.finished(first[1])
        # the client's FIN half-closes the pod connection; the echo server then
        # closes, and both streams of that request end, data first
        client.send(spdy.DataFrame(first[1], fin=True))
        await client.wait(lambda: client.finished(first[0]))
        fins = [f.stream_id for f in client.received() if isinstance(f, spdy.DataFrame) and f.fin]
        assert fins == [first[1], first[0]]
        assert client.data(first[0]) == b""  # no error text
        assert not client.finished(second[1])


async def test_pod_closing_first_ends_the_request() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello and goodbye")
        writer.close()
        await writer.wait_closed()

    async with tcp_server(greet) as port, spdy_session() as (client, _):
        error_id, data_id = client.open(port, "7")
        await client.wait(lambda: client.finished(error_id))
        assert client.data(data_id) == b"hello and goodbye"
        assert client.finished(data_id)


async def test_frames_split_into_single_byte_messages() -> None:
    async with tcp_server(upper_echo) as port, spdy_session() as (client, _):
        headers = {"streamtype": ["error"], "port": [str(port)], "requestid": ["0"]}
        client.send(spdy.SynStreamFrame(1, headers), split=1)
        client.send(spdy.SynStreamFrame(3, {**headers, "streamtype": ["data"]}), split=1)
        client.send(spdy.DataFrame(3, b"split", fin=True), split=1)
        await client.wait(lambda: client.finished(1))
        assert client.data(3) == b"SPLIT"


async def test_connection_failure_is_text_on_the_error_stream() -> None:
    async with tcp_server(upper_echo) as port:
        pass  # now closed: nothing listens there
    async with spdy_session() as (client, _):
        error_id, data_id = client.open(port, "0")
        await client.wait(lambda: client.finished(error_id) and client.finished(data_id))
        assert client.data(error_id).startswith(f"error forwarding port {port}:".encode())
        assert client.data(data_id) == b""


async def test_ports_outside_the_allowed_list_are_refused() -> None:
    async with tcp_server(upper_echo) as port, spdy_session(ports=[port + 1]) as (client, _):
        error_id, _ = client.open(port, "0")
        await client.wait(lambda: client.finished(error_id))
        assert b"not forwarded" in client.data(error_id)


async def test_ping_is_echoed_and_bad_streams_reset() -> None:
    async with spdy_session() as (client, _):
        client.send(spdy.PingFrame(1), spdy.SettingsFrame(((0, 4, 10),)), spdy.WindowUpdateFrame(0, 5))
        client.send(spdy.SynStreamFrame(1, {"streamtype": ["bogus"], "port": ["80"]}))
        client.send(spdy.SynStreamFrame(3, {"streamtype": ["data"], "port": ["none"]}))
        await client.wait(lambda: len(client.received()) >= 3)
        assert client.received() == [spdy.PingFrame(1), spdy.RstStreamFrame(1, spdy.RST_PROTOCOL_ERROR),
                                     spdy.RstStreamFrame(3, spdy.RST_PROTOCOL_ERROR)]


async def test_rst_stream_closes_the_pod_connection() -> None:
    closed = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the forwarder lets go
        closed.set()
        writer.close()

    async with tcp_server(hold) as port, spdy_session() as (client, _):
        error_id, data_id = client.open(port, "0")
        await client.wait(lambda: len(client.received()) >= 2)
        client.send(spdy.RstStreamFrame(data_id, spdy.RST_CANCEL))
        await asyncio.wait_for(closed.wait(), 5)
        assert not client.finished(error_id)  # a reset stream gets no FIN


async def test_goaway_refuses_new_streams() -> None:
    async with spdy_session() as (client, _):
        client.send(spdy.GoAwayFrame(0))
        client.send(spdy.SynStreamFrame(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}))
        await client.wait(lambda: client.received())
        assert client.received() == [spdy.RstStreamFrame(1, spdy.RST_REFUSED_STREAM)]


async def test_protocol_error_ends_the_session_with_goaway() -> None:
    transport = MemoryTransport()
    transport.feed(bytes.fromhex("80020006 00000004 00000001"))  # SPDY/2 ping
    await asyncio.wait_for(serve_portforward(transport, SPDY_PORTFORWARD_PROTOCOL, dial, ports=[]), 5)
    assert isinstance(spdy.FrameReader().feed(transport.sent[0])[0], spdy.GoAwayFrame)
    assert transport.close_code == 1002


async def test_requests_without_requestid_pair_by_stream_id() -> None:
    async with tcp_server(upper_echo) as port, spdy_session() as (client, _):
        for sid, kind in ((1, "error"), (3, "data")):
            client.send(spdy.SynStreamFrame(sid, {"streamtype": [kind], "port": [str(port)]}))
        client.send(spdy.DataFrame(3, b"legacy", fin=True))
        await client.wait(lambda: client.finished(1))
        assert client.data(3) == b"LEGACY"


# -- channel framing ----------------------------------------------------------------------


async def test_v4_channels_prefix_ports_relay_and_close() -> None:
    async with tcp_server(upper_echo) as port:
        async with tcp_server(upper_echo) as closed_port:
            pass
        transport = MemoryTransport()
        session = asyncio.ensure_future(
            serve_portforward(transport, V4_PROTOCOL, dial, ports=[port, closed_port]))
        lo, hi = port.to_bytes(2, "little"), closed_port.to_bytes(2, "little")
        await transport.wait_until(lambda: len(transport.sent) >= 4)
        assert transport.sent[:4] == [b"\x00" + lo, b"\x01" + lo, b"\x02" + hi, b"\x03" + hi]
        await transport.wait_until(lambda: any(m[0] == 3 and len(m) > 3 for m in transport.sent))
        transport.feed(b"\x00ping")
        await transport.wait_until(lambda: b"\x00PING" in transport.sent)
        assert not session.done()
        transport.hang_up()  # the client leaving ends the session
        await asyncio.wait_for(session, 5)
    errors = [m[1:] for m in transport.sent[4:] if m[0] == 3]
    assert errors and errors[0].startswith(f"error forwarding port {closed_port}".encode())


async def test_v4_session_closes_once_every_pod_connection_ended() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        writer.close()
        await writer.wait_closed()

    async with tcp_server(greet) as port:
        transport = MemoryTransport()
        await asyncio.wait_for(serve_portforward(transport, "", dial, ports=[port]), 5)
    assert b"\x00bye" in transport.sent
    assert transport.close_code == 1000


async def test_v4_needs_ports() -> None:
    with pytest.raises(ValueError):
        await serve_portforward(MemoryTransport(), V4_PROTOCOL, dial, ports=[])
    with pytest.raises(ValueError):
        await serve_portforward(MemoryTransport(), "v5.channel.k8s.io", dial, ports=[80])
