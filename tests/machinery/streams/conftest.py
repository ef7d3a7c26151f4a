"""Fixtures for the streaming tests: the fake API server (direct or relaying), a kubeconfig, a backend."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.machinery.streams.streams_fakeapi import FakeApiServer, http_backend


@pytest.fixture(scope="module", params=["direct", "relayed"])
def fake_api(request: pytest.FixtureRequest) -> Iterator[FakeApiServer]:
    """The server clients talk to: serving streams itself, or relaying them to a
    second server (API server in front of a kubelet), frame for frame."""
    servers = [FakeApiServer()]
    if request.param == "relayed":
        servers.append(FakeApiServer(upstream=servers[0].url))
    for server in servers:
        server.start()
    try:
        yield servers[-1]
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def fake_kubeconfig(fake_api: FakeApiServer, tmp_path: Path) -> Path:
    return fake_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def backend() -> Iterator[ThreadingHTTPServer]:
    with http_backend() as server:
        yield server
