"""relay: frames pass through unchanged in both directions, close codes follow."""

from __future__ import annotations

import asyncio

import pytest

from machinery.streams import TransportClosed, relay

pytestmark = pytest.mark.timeout(30)


class Peer:
    """One side of the relay; ``hang_up(code)`` is that peer closing with ``code``."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | int | None] = asyncio.Queue()
        self.received: list[bytes] = []
        self.close_code: int | None = None  # the peer's own code, once it has gone
        self.closed_with: int | None = None  # what the relay told it

    async def recv(self) -> bytes | None:
        message = await self.inbox.get()
        if isinstance(message, bytes):
            return message
        self.close_code = message  # gone from here on
        return None

    async def send(self, data: bytes) -> None:
        if self.close_code is not None:
            raise TransportClosed("gone")
        self.received.append(data)

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code

    def hang_up(self, code: int | None) -> None:
        self.inbox.put_nowait(code)


async def test_frames_pass_unchanged_and_the_backend_close_code_follows() -> None:
    client, backend = Peer(), Peer()
    task = asyncio.ensure_future(relay(client, backend))
    client.inbox.put_nowait(b"\x00stdin")
    backend.inbox.put_nowait(b"\x01stdout")
    backend.inbox.put_nowait(b'\x03{"status":"Success"}')
    backend.hang_up(1000)
    await asyncio.wait_for(task, 5)
    assert backend.received == [b"\x00stdin"]
    assert client.received == [b"\x01stdout", b'\x03{"status":"Success"}']
    assert client.closed_with == 1000
    assert backend.closed_with is None


async def test_client_leaving_closes_the_backend_with_its_code() -> None:
    client, backend = Peer(), Peer()
    task = asyncio.ensure_future(relay(client, backend))
    client.hang_up(1001)
    await asyncio.wait_for(task, 5)
    assert backend.closed_with == 1001


@pytest.mark.parametrize("code", [None, 1005, 1006])
async def test_a_dropped_backend_is_an_internal_error_for_the_client(code: int | None) -> None:
    client, backend = Peer(), Peer()
    task = asyncio.ensure_future(relay(client, backend))
    backend.hang_up(code)
    await asyncio.wait_for(task, 5)
    assert client.closed_with == 1011


async def test_a_sink_that_is_gone_ends_the_relay() -> None:
    client, backend = Peer(), Peer()
    backend.close_code = 1000  # already gone: sending to it fails
    task = asyncio.ensure_future(relay(client, backend))
    client.inbox.put_nowait(b"late")
    await asyncio.wait_for(task, 5)
    assert client.closed_with == 1000
