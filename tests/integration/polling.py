"""Waiting on the real API server in the process-level integration tests, written once.

The controllers and the scheduler act asynchronously, so each check polls until its condition
holds (``eventually``) rather than sleeping a guessed time; ``ok`` unwraps a response that must
have succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def eventually(fn: Callable[[], T | None], timeout: float = 15.0, what: str = "condition", *,
               interval: float = 0.05) -> T:
    """The first truthy value of ``fn()``, polled every ``interval`` seconds.

    Fails the test, naming ``what``, once ``timeout`` seconds have passed without one.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a response that must have succeeded."""
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body
