"""The health side port's lifetime as the component mains use it (HTTP behaviour: test_component)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from machinery import health as health_module
from machinery.health import Health, serving_health


def test_exported_members() -> None:
    for name in health_module.__all__:
        assert hasattr(health_module, name), name


async def test_serving_health_yields_the_bound_port_and_closes_on_exit() -> None:
    health = Health()
    async with serving_health(health, "127.0.0.1", 0) as port:
        assert port > 0
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/healthz")).text == "ok"
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


async def test_serving_health_closes_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError):
        async with serving_health(Health(), "127.0.0.1", 0) as port:
            raise RuntimeError("boom")
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
