"""Fixtures of the verb tests: an in-memory API server and a ``k8py`` runner against it.

A module that needs objects in place overrides ``server`` with a seeded one; ``k8py`` then runs
against that.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from cli.context import Context
from cli.main import build_parser, invoke
from machinery.client import ApiClient
from tests.cli.fakecli import Result
from tests.machinery.client_fakeapi import FakeApiServer


@pytest.fixture
def server() -> FakeApiServer:
    return FakeApiServer()


@pytest.fixture
async def k8py(server: FakeApiServer) -> AsyncIterator[Callable[..., Awaitable[Result]]]:
    async def run(*argv: str, stdin: str = "") -> Result:
        args = build_parser().parse_args(list(argv))
        out, err = io.StringIO(), io.StringIO()
        client = ApiClient("http://127.0.0.1:6443", transport=server.transport, namespace="default")
        ctx = Context(args, stdout=out, stderr=err, stdin=io.StringIO(stdin), client=client)
        code = await invoke(ctx, args.handler)
        return Result(code, out.getvalue(), err.getvalue())
    yield run
