"""Probe handlers against loopback servers, and probe workers on a fast clock."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelet.probes import ProbeManager, resolve_port, run_handler
from tests.kubelet.fakes import FakeClock, FakeRecorder, FakeRuntime

Obj = dict[str, Any]


@pytest.fixture
async def http_server() -> AsyncIterator[int]:
    """Answers /ok with 200 and everything else with 503, on a loopback port."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        ok = request.split(b" ")[1] == b"/ok"
        writer.write(b"HTTP/1.1 " + (b"200 OK" if ok else b"503 Unavailable") +
                     b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_http_and_tcp_handlers(http_server: int) -> None:
    runtime = FakeRuntime(FakeClock())
    container = {"ports": [{"name": "web", "containerPort": http_server}]}
    ok, _ = await run_handler(runtime, {"httpGet": {"path": "/ok", "port": "web"}},  # type: ignore[arg-type]
                              container, "c1", "127.0.0.1", 1)
    assert ok
    ok, message = await run_handler(runtime, {"httpGet": {"path": "/bad", "port": http_server}},  # type: ignore[arg-type]
                                    container, "c1", "127.0.0.1", 1)
    assert not ok and message == "HTTP probe failed with statuscode: 503"
    ok, _ = await run_handler(runtime, {"tcpSocket": {"port": http_server}}, container, "c1",  # type: ignore[arg-type]
                              "127.0.0.1", 1)
    assert ok
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    ok, message = await run_handler(runtime, {"tcpSocket": {"port": closed}}, container, "c1",  # type: ignore[arg-type]
                                    "127.0.0.1", 1)
    assert not ok and message.startswith(f"dial tcp 127.0.0.1:{closed}")


async def test_exec_and_unsupported_handlers() -> None:
    runtime = FakeRuntime(FakeClock())
    runtime.exec_results[("check",)] = (1, "not yet\n")
    ok, message = await run_handler(runtime, {"exec": {"command": ["check"]}}, {}, "c1", "", 1)  # type: ignore[arg-type]
    assert not ok and message == "not yet"
    ok, message = await run_handler(runtime, {"grpc": {"port": 1}}, {}, "c1", "", 1)  # type: ignore[arg-type]
    assert not ok and "grpc" in message
    ok, message = await run_handler(runtime, {"httpGet": {"port": "nope"}}, {}, "c1", "", 1)  # type: ignore[arg-type]
    assert not ok and "couldn't find port" in message


def test_resolve_port() -> None:
    assert resolve_port({}, 80) == 80 and resolve_port({}, "81") == 81
    assert resolve_port({"ports": [{"name": "http", "containerPort": 8080}]}, "http") == 8080
    with pytest.raises(ValueError):
        resolve_port({}, "http")


class Probes:
    def __init__(self) -> None:
        self.runtime = FakeRuntime(FakeClock())
        self.recorder = FakeRecorder()
        self.changed: list[str] = []
        self.manager = ProbeManager(self.runtime, self.recorder, self.changed.append,  # type: ignore[arg-type]
                                    sleep=self.tick)
        self.ticks = 0

    async def tick(self, seconds: float) -> None:
        self.ticks += 1
        await asyncio.sleep(0)

    async def until(self, predicate: Any, rounds: int = 200) -> None:
        for _ in range(rounds):
            if predicate():
                return
            await asyncio.sleep(0)
        raise AssertionError("probe outcome not reached")


def pod(container: Obj) -> Obj:
    return {"metadata": {"uid": "u1", "name": "p", "namespace": "ns"},
            "spec": {"containers": [container]}}


async def test_readiness_follows_thresholds() -> None:
    p = Probes()
    container = {"name": "c", "readinessProbe": {"exec": {"command": ["ready"]},
                                                 "successThreshold": 2, "failureThreshold": 2}}
    p.runtime.exec_results[("ready",)] = (1, "no")
    assert not p.manager.ready(container, "c1")
    p.manager.update(pod(container), [(container, "c1", None)], "10.0.0.2")
    await p.until(lambda: p.recorder.reasons().count("Unhealthy") >= 2)
    assert not p.manager.ready(container, "c1")
    p.runtime.exec_results[("ready",)] = (0, "")
    await p.until(lambda: p.manager.ready(container, "c1"))
    assert p.changed and set(p.changed) == {"u1"}
    p.runtime.exec_results[("ready",)] = (1, "down")
    await p.until(lambda: not p.manager.ready(container, "c1"))
    assert ("Warning", "Unhealthy", "Readiness probe failed: down", "spec.containers{c}") \
        in p.recorder.events
    await p.manager.stop()


async def test_liveness_waits_for_startup_then_asks_for_a_restart() -> None:
    p = Probes()
    container = {"name": "c", "startupProbe": {"exec": {"command": ["started"]},
                                              "failureThreshold": 1000},
                 "livenessProbe": {"exec": {"command": ["alive"]}, "failureThreshold": 1}}
    p.runtime.exec_results[("started",)] = (1, "")
    p.runtime.exec_results[("alive",)] = (1, "dead")
    p.manager.update(pod(container), [(container, "c1", None)], "10.0.0.2")
    await p.until(lambda: p.ticks > 20)
    assert not p.manager.started(container, "c1") and p.manager.kill_reason("c1") is None
    p.runtime.exec_results[("started",)] = (0, "")
    await p.until(lambda: p.manager.kill_reason("c1") is not None)
    assert p.manager.started(container, "c1")
    assert p.manager.kill_reason("c1") == "Container c failed liveness probe, will be restarted"
    p.manager.forget_container("c1")
    assert p.manager.kill_reason("c1") is None
    await p.manager.stop()


async def test_workers_follow_running_containers_and_seeded_readiness() -> None:
    p = Probes()
    container = {"name": "c", "readinessProbe": {"exec": {"command": ["ready"]}}}
    p.manager.seed_ready("c1")
    assert p.manager.ready(container, "c1")
    p.manager.update(pod(container), [(container, "c1", None)], "10.0.0.2")
    assert len(p.manager._workers) == 1
    p.manager.update(pod(container), [], "10.0.0.2")
    assert p.manager._workers == {}
    await p.manager.stop()
