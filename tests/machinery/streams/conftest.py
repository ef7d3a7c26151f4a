"""Fixtures for the streaming tests: the fake API server, a kubeconfig, a backend."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.machinery.streams.streams_fakeapi import FakeApiServer, http_backend


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_kubeconfig(fake_api: FakeApiServer, tmp_path: Path) -> Path:
    return fake_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def backend() -> Iterator[ThreadingHTTPServer]:
    with http_backend() as server:
        yield server
