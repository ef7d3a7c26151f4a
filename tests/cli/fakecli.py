"""What the verb tests share beside their fixtures (``conftest.py``): the runner's result and the
requests the in-memory API server received, so each test module need not redefine them."""

from __future__ import annotations

import orjson

from tests.machinery.client_fakeapi import FakeApiServer


class Result:
    """One ``k8py`` invocation: its exit code and what it wrote to stdout and stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def requests(server: FakeApiServer, method: str) -> list[tuple[str, dict[str, object]]]:
    """The ``(url, decoded body)`` of each ``method`` request the fake server saw, in order."""
    return [(str(r.url), orjson.loads(r.content) if r.content else {})
            for r in server.requests if r.method == method]
