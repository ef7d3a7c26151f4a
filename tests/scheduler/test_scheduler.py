"""The scheduling loop against an in-memory API server: real client, informers and event writer.

Time in the queue runs on a fake clock, so back-off is stepped, not waited out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.machinery.client_fakeapi import FakeApiServer
from tests.scheduler.builders import make_node, make_pod

from machinery.client import ApiClient
from machinery.events import EventBroadcaster
from machinery.informer import SharedInformerFactory
from machinery.resources import Resource, lookup
from machinery.workqueue import FakeClock
from scheduler.queue import BACKOFF, UNSCHEDULABLE
from scheduler.scheduler import Scheduler



def _resource(name: str) -> Resource:
    found = lookup(name)
    assert found is not None
    return found


PODS, NODES, EVENTS = _resource("pods"), _resource("nodes"), _resource("events")
Obj = dict[str, Any]


@dataclass
class Env:
    server: FakeApiServer
    scheduler: Scheduler
    clock: FakeClock
    events: EventBroadcaster

    def pod(self, name: str) -> Obj:
        return self.server.table(PODS)[("default", name)]

    def node_of(self, name: str) -> str | None:
        return (self.pod(name).get("spec") or {}).get("nodeName")

    def queued(self, name: str, attribute: str) -> Any:
        """An attribute of the pod's queue entry (None when it is not queued)."""
        entry = self.scheduler.queue.get(f"default/{name}")
        return getattr(entry, attribute) if entry is not None else None

    def event_messages(self, reason: str) -> list[str]:
        return [e["message"] for e in self.server.table(EVENTS).values() if e["reason"] == reason]

    async def until(self, check: Callable[[], object], what: str, timeout: float = 5.0) -> None:
        """Let the loop, informers and writers run until ``check`` holds (bounded)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    server = FakeApiServer()
    clock = FakeClock()
    async with ApiClient("http://127.0.0.1:1", transport=server.transport) as client:
        informers = SharedInformerFactory(client)
        events = EventBroadcaster(client)
        scheduler = Scheduler(client, informers, events.recorder("default-scheduler"),
                              clock=clock, rand=random.Random(7))
        await informers.start()
        assert await informers.wait_for_sync(5)
        task = asyncio.ensure_future(scheduler.run())
        try:
            yield Env(server, scheduler, clock, events)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await events.stop(1)
            await informers.stop()


async def test_binds_to_the_only_fitting_node_and_says_so(env: Env) -> None:
    env.server.put(NODES, make_node("small", cpu="1"))
    env.server.put(NODES, make_node("big", cpu="8"))
    env.server.put(PODS, make_pod("p", cpu="2"))
    await env.until(lambda: env.node_of("p") is not None, "the bind")
    assert env.node_of("p") == "big"
    await env.until(lambda: env.event_messages("Scheduled"), "the Scheduled event")
    assert env.event_messages("Scheduled") == ["Successfully assigned default/p to big"]
    event = next(iter(env.server.table(EVENTS).values()))
    assert event["type"] == "Normal" and event["source"]["component"] == "default-scheduler"
    assert event["involvedObject"]["name"] == "p"


async def test_replicas_spread_over_equal_nodes(env: Env) -> None:
    env.server.put(NODES, make_node("a"))
    env.server.put(NODES, make_node("b"))
    for i in range(6):
        env.server.put(PODS, make_pod(f"web-{i}", owner_uid="rs-web", cpu="100m",
                                      memory="64Mi"))
    await env.until(lambda: all(env.node_of(f"web-{i}") for i in range(6)), "all binds")
    placed = [env.node_of(f"web-{i}") for i in range(6)]
    assert placed.count("a") == 3 and placed.count("b") == 3


async def test_assumed_pods_count_before_the_api_confirms(env: Env) -> None:
    env.server.put(NODES, make_node("a", cpu="4"))
    env.server.put(NODES, make_node("b", cpu="4"))
    env.server.put(PODS, make_pod("x", cpu="3"))
    env.server.put(PODS, make_pod("y", cpu="3"))
    await env.until(lambda: env.node_of("x") and env.node_of("y"), "both binds")
    assert {env.node_of("x"), env.node_of("y")} == {"a", "b"}


async def test_no_fit_reports_then_binds_when_a_node_appears(env: Env) -> None:
    env.server.put(NODES, make_node("small", cpu="1"))
    env.server.put(NODES, make_node("picky", cpu="8", labels={"disk": "ssd"}))
    selector_pod = make_pod("p", cpu="2")
    selector_pod["spec"]["nodeSelector"] = {"size": "big"}
    env.server.put(PODS, selector_pod)
    expected = ("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
                "scheduling.")
    await env.until(lambda: env.event_messages("FailedScheduling"), "FailedScheduling")
    assert env.event_messages("FailedScheduling") == [expected]
    await env.until(lambda: (env.pod("p").get("status") or {}).get("conditions"),
                    "the PodScheduled condition")
    condition = env.pod("p")["status"]["conditions"][0]
    assert condition["type"] == "PodScheduled" and condition["status"] == "False"
    assert condition["reason"] == "Unschedulable" and condition["message"] == expected
    entry = env.scheduler.queue.get("default/p")
    assert entry is not None and entry.where == UNSCHEDULABLE
    env.server.put(NODES, make_node("new", cpu="4", labels={"size": "big"}))
    await env.until(lambda: entry.where == BACKOFF, "the move to back-off")
    await env.clock.advance(1.0)
    await env.until(lambda: env.node_of("p") == "new", "the bind to the new node")


async def test_unchanged_condition_is_not_rewritten(env: Env) -> None:
    env.server.put(NODES, make_node("n", cpu="1"))
    env.server.put(PODS, make_pod("p", cpu="2"))

    def status_patches() -> int:
        return sum(1 for r in env.server.requests
                   if r.method == "PATCH" and r.url.path.endswith("/pods/p/status"))

    await env.until(lambda: status_patches() == 1, "the first condition write")
    await env.until(lambda: (env.pod("p").get("status") or {}).get("conditions"), "the write")
    env.scheduler.queue.move_all_to_active()
    await env.clock.advance(1.0)
    await env.until(lambda: env.queued("p", "attempts") == 2, "the second attempt")
    await env.until(lambda: not env.scheduler._tasks, "the second attempt's writes")
    assert status_patches() == 1


async def test_failed_bind_forgets_and_retries_after_backoff(env: Env) -> None:
    failures: list[httpx.Request] = []

    def reject_binding_once(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/binding") and not failures:
            failures.append(request)
            return httpx.Response(500, json={"kind": "Status", "apiVersion": "v1",
                                             "status": "Failure", "code": 500,
                                             "reason": "InternalError", "message": "etcd hiccup"})
        return None

    env.server.fail.append(reject_binding_once)
    env.server.put(NODES, make_node("n", cpu="2"))
    env.server.put(PODS, make_pod("p", cpu="2"))
    await env.until(lambda: failures and not env.scheduler.cache.is_assumed("default/p"),
                    "the rejected bind")
    info = env.scheduler.cache.snapshot().get("n")
    assert info is not None and info.requested.get("cpu", 0) == 0
    await env.until(lambda: env.event_messages("FailedScheduling"), "the failure event")
    assert env.event_messages("FailedScheduling")[0].startswith("Binding rejected: ")
    assert env.node_of("p") is None
    await env.clock.advance(1.0)
    await env.until(lambda: env.node_of("p") == "n", "the retried bind")


async def test_other_schedulers_gated_and_deleting_pods_are_left_alone(env: Env) -> None:
    env.server.put(NODES, make_node("n"))
    env.server.put(PODS, make_pod("mine"))
    env.server.put(PODS, make_pod("theirs", scheduler_name="my-scheduler"))
    gated = make_pod("gated")
    gated["spec"]["schedulingGates"] = [{"name": "example.com/quota"}]
    env.server.put(PODS, gated)
    doomed = make_pod("doomed")
    doomed["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    env.server.put(PODS, doomed)
    await env.until(lambda: env.node_of("mine") == "n", "our pod's bind")
    await env.events.flush(2)
    assert env.node_of("theirs") is None and env.node_of("doomed") is None
    assert "default/theirs" not in env.scheduler.queue
    assert "default/doomed" not in env.scheduler.queue
    assert env.node_of("gated") is None and "default/gated" not in env.scheduler.queue
    del gated["spec"]["schedulingGates"]
    env.server.put(PODS, gated)  # the last gate removed: now it is scheduled
    await env.until(lambda: env.node_of("gated") == "n", "the ungated pod's bind")


async def test_terminal_pods_free_their_resources(env: Env) -> None:
    env.server.put(NODES, make_node("n", cpu="2"))
    env.server.put(PODS, make_pod("old", cpu="2", node="n"))
    env.server.put(PODS, make_pod("new", cpu="2"))
    await env.until(lambda: env.event_messages("FailedScheduling"), "the failure")
    assert "1 Insufficient cpu" in env.event_messages("FailedScheduling")[0]
    env.server.put(PODS, make_pod("old", cpu="2", node="n", phase="Succeeded"))
    await env.until(lambda: env.queued("new", "where") == BACKOFF, "the move")
    await env.clock.advance(1.0)
    await env.until(lambda: env.node_of("new") == "n", "the bind into the freed room")


async def test_cancelled_run_requeues_binds_in_flight() -> None:
    server = FakeApiServer()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/binding"):
            started.set()
            await release.wait()
        return await server.handle(request)

    async with ApiClient("http://127.0.0.1:1", transport=httpx.MockTransport(slow)) as client:
        informers = SharedInformerFactory(client)
        events = EventBroadcaster(client)
        scheduler = Scheduler(client, informers, events.recorder("default-scheduler"),
                              clock=FakeClock())
        server.put(NODES, make_node("n"))
        server.put(PODS, make_pod("p"))
        await informers.start()
        assert await informers.wait_for_sync(5)
        task = asyncio.ensure_future(scheduler.run())
        await asyncio.wait_for(started.wait(), 5)
        assert scheduler.cache.is_assumed("default/p")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        release.set()
        entry = scheduler.queue.get("default/p")
        assert entry is not None and entry.where == BACKOFF
        assert not scheduler.cache.is_assumed("default/p")
        await events.stop(1)
        await informers.stop()
