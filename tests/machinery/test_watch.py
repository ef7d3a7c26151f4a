"""The reflector: list, watch from the list's version, re-watch, relist only on 410."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.machinery.client_fakeapi import FakeApiServer

from machinery import errors, watch
from machinery.client import ApiClient
from machinery.resources import lookup
from machinery.watch import Backoff, Reflector, ResourceListWatch, WatchEvent
from machinery.workqueue import FakeClock

PODS = lookup("pods")
assert PODS is not None


def obj(name: str, rv: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


def ev(kind: str, name: str, rv: int) -> WatchEvent:
    if kind == "BOOKMARK":
        return {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(rv)}}}
    return {"type": kind, "object": obj(name, rv)}  # type: ignore[typeddict-item]


class Script:
    """A ListerWatcher whose lists and streams are scripted by the test."""

    def __init__(self) -> None:
        self.lists: list[tuple[list[dict[str, Any]], str] | Exception] = []
        self.streams: list[tuple[list[WatchEvent], Exception | None]] = []
        self.list_calls = 0
        self.watch_calls: list[tuple[str, int | None]] = []
        self.idle = asyncio.Event()

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        self.list_calls += 1
        result = self.lists.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    async def watch(self, resource_version: str, timeout_seconds: int | None,
                    ) -> AsyncIterator[WatchEvent]:
        self.watch_calls.append((resource_version, timeout_seconds))
        if not self.streams:
            self.idle.set()
            await asyncio.Event().wait()
        events, failure = self.streams.pop(0)
        for event in events:
            yield event
        if failure is not None:
            raise failure


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def replace(self, objects: list[dict[str, Any]], resource_version: str) -> None:
        self.calls.append(("replace", ([o["metadata"]["name"] for o in objects],
                                       resource_version)))

    def apply(self, event: WatchEvent) -> None:
        self.calls.append((event["type"], event["object"]["metadata"]["name"]))


async def run_until_idle(script: Script, clock: FakeClock, reflector: Reflector,
                         advance: float = 0.0) -> asyncio.Task[None]:
    task = asyncio.create_task(reflector.run())
    for _ in range(20):
        await clock.advance(advance if advance else 0)
        if script.idle.is_set():
            break
    assert script.idle.is_set(), "reflector never reached a quiet watch"
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_exports_exist() -> None:
    for name in watch.__all__:
        assert hasattr(watch, name), name


def test_backoff_grows_caps_and_resets() -> None:
    b = Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=1.0, rand=lambda: 0.0)
    assert [b.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert b.next() == 1.0
    jittered = Backoff(initial=1.0, maximum=8.0, jitter=1.0, rand=lambda: 0.5)
    assert jittered.next() == 1.5


async def test_lists_then_watches_from_list_version() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([obj("a", 5)], "10")]
    script.streams = [([ev("ADDED", "b", 11), ev("BOOKMARK", "", 15),
                        ev("MODIFIED", "a", 16), ev("DELETED", "b", 17)], None)]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = await run_until_idle(script, clock, reflector)
    assert sink.calls == [("replace", (["a"], "10")), ("ADDED", "b"), ("MODIFIED", "a"),
                          ("DELETED", "b")]
    assert script.watch_calls[0] == ("10", 300)
    assert script.watch_calls[1][0] == "17", "a clean end re-watches from the last version"
    assert script.list_calls == 1
    await stop(task)


async def test_bookmark_moves_the_resume_version() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([], "10")]
    script.streams = [([ev("BOOKMARK", "", 42)], None)]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = await run_until_idle(script, clock, reflector)
    assert [c[0] for c in script.watch_calls] == ["10", "42"]
    assert sink.calls == [("replace", ([], "10"))]
    assert reflector.last_resource_version == "42"
    await stop(task)


async def test_broken_stream_rewatches_after_backoff_without_relisting() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([], "10")]
    script.streams = [([ev("ADDED", "a", 11)], errors.ServiceUnavailable("reset")),
                      ([], errors.ServiceUnavailable("refused"))]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = asyncio.create_task(reflector.run())
    await clock.advance(0)
    assert [c[0] for c in script.watch_calls] == ["10"]
    await clock.advance(0.8)
    assert [c[0] for c in script.watch_calls] == ["10", "11"]
    await clock.advance(1.5)
    assert len(script.watch_calls) == 2, "second failure waits twice as long"
    await clock.advance(0.2)
    assert [c[0] for c in script.watch_calls] == ["10", "11", "11"]
    assert script.list_calls == 1
    await stop(task)


async def test_expired_relists() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([obj("a", 5)], "10"), ([obj("b", 30)], "30")]
    script.streams = [([ev("ADDED", "c", 11)], errors.Expired("too old resource version"))]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = await run_until_idle(script, clock, reflector)
    assert sink.calls == [("replace", (["a"], "10")), ("ADDED", "c"),
                          ("replace", (["b"], "30"))]
    assert [c[0] for c in script.watch_calls] == ["10", "30"]
    assert reflector.lists == 2
    await stop(task)


async def test_list_failures_back_off_then_succeed() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [errors.ServiceUnavailable("down"), errors.InternalError("oops"), ([], "7")]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = asyncio.create_task(reflector.run())
    await clock.advance(0)
    assert script.list_calls == 1 and sink.calls == []
    await clock.advance(0.8)
    assert script.list_calls == 2
    await clock.advance(1.6)
    assert script.list_calls == 3
    assert sink.calls == [("replace", ([], "7"))]
    await stop(task)


async def test_an_immediately_empty_stream_is_throttled() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([], "10")]
    script.streams = [([], None), ([], None)]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.0)
    task = asyncio.create_task(reflector.run())
    await clock.advance(0)
    assert len(script.watch_calls) == 1
    await clock.advance(0.8)
    assert len(script.watch_calls) == 2
    await stop(task)


async def test_watch_timeout_is_jittered_between_min_and_twice_min() -> None:
    script, sink, clock = Script(), Recorder(), FakeClock()
    script.lists = [([], "1")]
    reflector = Reflector(script, sink, clock=clock, rand=lambda: 0.5, min_watch_timeout=300)
    task = await run_until_idle(script, clock, reflector)
    assert script.watch_calls == [("1", 450)]
    await stop(task)


async def test_reflector_against_the_fake_server() -> None:
    server = FakeApiServer()
    clock = FakeClock()
    sink = Recorder()
    server.put(PODS, {"metadata": {"name": "a", "namespace": "ns"}})
    async with ApiClient("http://127.0.0.1:1", transport=server.transport) as api:
        lw = ResourceListWatch(api, "pods", "ns")
        reflector = Reflector(lw, sink, clock=clock, rand=lambda: 0.0)
        task = asyncio.create_task(reflector.run())
        await server.wait_for_watchers()
        server.put(PODS, {"metadata": {"name": "b", "namespace": "ns"}})
        server.put(PODS, {"metadata": {"name": "other", "namespace": "elsewhere"}})
        server.end_watches()
        await clock.advance(0)
        await server.wait_for_watchers()
        server.break_watches()
        await clock.advance(0)
        server.compact()
        server.put(PODS, {"metadata": {"name": "c", "namespace": "ns"}})
        await clock.advance(1)
        await server.wait_for_watchers()
        assert sink.calls[:2] == [("replace", (["a"], "101")), ("ADDED", "b")]
        assert ("replace", (["a", "b", "c"], str(server.rv))) in sink.calls
        watch_versions = [r.url.params.get("resourceVersion") for r in server.requests
                          if r.url.params.get("watch")]
        assert watch_versions[:2] == ["101", "102"]
        await stop(task)
        await api.aclose()
