"""Fixtures of the machinery tests: the root ``fake`` API server and its ``client``, under
the names these modules' tests read best with (the server they script, the api they drive)."""

from __future__ import annotations

import pytest

from machinery.client import ApiClient
from tests.machinery.client_fakeapi import FakeApiServer


@pytest.fixture
def server(fake: FakeApiServer) -> FakeApiServer:
    return fake


@pytest.fixture
def api(client: ApiClient) -> ApiClient:
    return client
