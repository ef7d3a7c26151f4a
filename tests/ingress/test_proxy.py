"""The ingress proxy on 127.0.0.1 in front of local backends: routing, errors and streaming."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ingress.proxy import IngressProxy, ProxyTimeouts
from ingress.routes import Endpoint, RouteTable, build_table
from tests.ingress.backends import Backend
from tests.ingress.builders import (
    endpoint_slice, ingress, ingress_class, path, rule, service,
)

pytestmark = pytest.mark.timeout(30)


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Setup:
    proxy: IngressProxy
    alpha: Backend
    beta: Backend
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    async def raw(self, request: bytes, *, until: bytes = b"", timeout: float = 5) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.proxy.port)
        try:
            writer.write(request)
            await writer.drain()
            data = b""
            while until not in data or not until:
                chunk = await asyncio.wait_for(reader.read(65536), timeout)
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            writer.close()


def make_table(alpha: Backend, beta: Backend) -> RouteTable:
    objects: dict[str, list[Any]] = {
        "services": [service("alpha", ("web", 80)), service("beta", ("web", 80)),
                     service("empty", ("web", 80)), service("dead", ("web", 80))],
        "slices": [endpoint_slice("alpha", alpha.port, "127.0.0.1"),
                   endpoint_slice("beta", beta.port, "127.0.0.1"),
                   endpoint_slice("dead", refused_port(), "127.0.0.1")],
    }
    rules = [rule("alpha.test", path("/", "alpha")),
             rule("shop.test", path("/api", "beta"), path("/", "alpha")),
             rule("empty.test", path("/", "empty")), rule("dead.test", path("/", "dead"))]
    return build_table([ingress("web", rules)], [ingress_class()], objects["services"],
                       objects["slices"])


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    alpha, beta = await Backend("alpha").start(), await Backend("beta").start()
    routes = make_table(alpha, beta)
    proxy = IngressProxy(lambda: routes, timeouts=ProxyTimeouts(connect=1, response=0.5))
    await proxy.start("127.0.0.1", 0)
    async with httpx.AsyncClient(timeout=5) as http:
        yield Setup(proxy, alpha, beta, http)
    await proxy.close()
    await alpha.close()
    await beta.close()


async def test_routes_by_host_and_path_with_forwarded_headers(setup: Setup) -> None:
    api = await setup.http.get(f"{setup.url}/api/items?x=1",
                               headers={"Host": "shop.test", "X-Forwarded-For": "192.0.2.9"})
    seen = api.json()
    assert seen["backend"] == "beta" and seen["path"] == "/api/items?x=1"
    assert seen["headers"]["host"] == "shop.test"
    assert seen["headers"]["x-forwarded-for"] == "192.0.2.9, 127.0.0.1"
    assert seen["headers"]["x-forwarded-host"] == "shop.test"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-real-ip"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-port"] == str(setup.proxy.port)
    home = await setup.http.get(f"{setup.url}/apix", headers={"Host": "shop.test"})
    assert home.json()["backend"] == "alpha"
    other = await setup.http.get(f"{setup.url}/", headers={"Host": "alpha.test:8080"})
    assert other.json()["backend"] == "alpha"


async def test_errors_the_proxy_answers_itself(setup: Setup) -> None:
    missing = await setup.http.get(f"{setup.url}/", headers={"Host": "nowhere.test"})
    assert missing.status_code == 404
    empty = await setup.http.get(f"{setup.url}/", headers={"Host": "empty.test"})
    assert empty.status_code == 503
    dead = await setup.http.get(f"{setup.url}/", headers={"Host": "dead.test"})
    assert dead.status_code == 502
    slow = await setup.http.get(f"{setup.url}/slow", headers={"Host": "alpha.test"})
    assert slow.status_code == 504


async def test_request_bodies_stream_through(setup: Setup) -> None:
    sized = await setup.http.post(f"{setup.url}/echo", content=b"x" * 100_000,
                                  headers={"Host": "alpha.test"})
    assert len(sized.json()["body"]) == 100_000

    async def pieces() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    chunked = await setup.http.post(f"{setup.url}/echo", content=pieces(),
                                    headers={"Host": "alpha.test"})
    seen = chunked.json()
    assert seen["body"] == "one,two,three"
    assert seen["headers"]["transfer-encoding"] == "chunked"


async def test_response_bodies_stream_before_they_end(setup: Setup) -> None:
    async with setup.http.stream("GET", f"{setup.url}/chunked",
                                 headers={"Host": "alpha.test"}) as response:
        chunks = response.aiter_raw()
        assert await asyncio.wait_for(chunks.__anext__(), 3) == b"first"
        setup.alpha.release.set()
        rest = b"".join([part async for part in chunks])
    assert rest == b"secondthird"


async def test_close_delimited_responses_close_the_client_connection(setup: Setup) -> None:
    reply = await setup.raw(b"GET /close HTTP/1.1\r\nHost: alpha.test\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert body == b"until the end"


async def test_keep_alive_carries_several_requests(setup: Setup) -> None:
    request = b"GET /echo HTTP/1.1\r\nHost: shop.test\r\n\r\n"
    last = b"GET /api HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
    reply = await setup.raw(request + last)
    assert reply.count(b"HTTP/1.1 200 OK") == 2
    assert b'"backend": "alpha"' in reply and b'"backend": "beta"' in reply


async def test_a_refused_request_with_a_body_closes_the_connection(setup: Setup) -> None:
    reply = await setup.raw(b"POST / HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 3\r\n"
                            b"\r\nabc")
    assert reply.startswith(b"HTTP/1.1 404") and b"Connection: close" in reply


async def test_expect_continue_is_relayed(setup: Setup) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", setup.proxy.port)
    try:
        writer.write(b"PUT /echo HTTP/1.1\r\nHost: alpha.test\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert interim.startswith(b"HTTP/1.1 100")
        writer.write(b"data")
        final = await asyncio.wait_for(reader.read(), 3)
        assert final.startswith(b"HTTP/1.1 200") and b'"body": "data"' in final
    finally:
        writer.close()


async def test_upgrade_becomes_a_two_way_pipe(setup: Setup) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", setup.proxy.port)
    try:
        writer.write(b"GET /upgrade HTTP/1.1\r\nHost: alpha.test\r\nConnection: Upgrade\r\n"
                     b"Upgrade: echo\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(b"hello")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(5), 3) == b"HELLO"
    finally:
        writer.close()


async def test_head_and_bad_requests(setup: Setup) -> None:
    head = await setup.http.head(f"{setup.url}/echo", headers={"Host": "alpha.test"})
    assert head.status_code == 200 and head.content == b""
    no_host = await setup.raw(b"GET / HTTP/1.1\r\n\r\n")
    assert no_host.startswith(b"HTTP/1.1 400")
    garbage = await setup.raw(b"NONSENSE\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400")
    version = await setup.raw(b"GET / HTTP/2.0\r\nHost: alpha.test\r\n\r\n")
    assert version.startswith(b"HTTP/1.1 505")


async def test_requests_spread_over_endpoints_and_skip_dead_ones() -> None:
    first, second = await Backend("first").start(), await Backend("second").start()
    dead = refused_port()
    slices = [endpoint_slice("web", first.port, "127.0.0.1")]
    # Three endpoints of one Service, each on its own port: give each its own slice.
    for number, name in ((second.port, "web-b"), (dead, "web-c")):
        extra = endpoint_slice("web", number, "127.0.0.1")
        extra["metadata"]["name"] = name
        slices.append(extra)
    routes = build_table([ingress("spread", [rule(None, path("/", "web"))])], [ingress_class()],
                         [service("web", ("web", 80))], slices)
    proxy = IngressProxy(lambda: routes)
    await proxy.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            seen = [(await http.get(f"http://127.0.0.1:{proxy.port}/echo",
                                    headers={"Host": "any"})) for _ in range(30)]
        assert {r.status_code for r in seen} == {200}
        assert {r.json()["backend"] for r in seen} == {"first", "second"}
    finally:
        await proxy.close()
        await first.close()
        await second.close()



async def test_a_failing_endpoint_is_retried_only_for_requests_without_effect() -> None:
    good, bad = await Backend("good").start(), await Backend("bad", broken=True).start()
    slices = [endpoint_slice("web", bad.port, "127.0.0.1"),
              endpoint_slice("web", good.port, "127.0.0.1")]
    slices[1]["metadata"]["name"] = "web-b"
    routes = build_table([ingress("retry", [rule(None, path("/", "web"))])], [ingress_class()],
                         [service("web", ("web", 80))], slices)

    def bad_first(endpoints: list[Endpoint]) -> list[Endpoint]:
        return sorted(endpoints, key=lambda e: e.port != bad.port)

    proxy = IngressProxy(lambda: routes, choose=bad_first)
    await proxy.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{proxy.port}/echo"
            fetched = await http.get(url)
            assert fetched.status_code == 200 and fetched.json()["backend"] == "good"
            posted = await http.post(url, content=b"once only")
            assert posted.status_code == 502
        assert bad.requests == 2 and good.requests == 1
    finally:
        await proxy.close()
        await good.close()
        await bad.close()


async def test_a_backend_hanging_up_gives_502_not_a_dropped_connection(setup: Setup) -> None:
    for request_path in ("/hangup", "/reset"):
        response = await setup.http.get(f"{setup.url}{request_path}",
                                        headers={"Host": "alpha.test"})
        assert response.status_code == 502, request_path
