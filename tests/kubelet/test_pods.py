"""Pod workers: status writes only on change, deletion end to end, orphans, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubelet.pods import PodWorkers
from machinery.meta import deepcopy_json
from tests.kubelet.fakes import FakeClient
from tests.kubelet.test_sync import Harness, app, make_pod

Obj = dict[str, Any]


class Pods:
    """The informer cache the workers read: ``namespace/name`` -> pod."""

    def __init__(self) -> None:
        self.items: dict[str, Obj] = {}

    def get(self, key: str) -> Obj | None:
        return self.items.get(key)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Harness, FakeClient, Pods, PodWorkers]:
    h = Harness(tmp_path)
    client, pods = FakeClient(), Pods()
    workers = PodWorkers(h.ctx, client, pods)  # type: ignore[arg-type]
    return h, client, pods, workers


async def admit(client: FakeClient, pods: Pods, workers: PodWorkers, pod: Obj) -> None:
    """Store ``pod`` in the API and the informer cache, then hand it to the workers."""
    await client.create("pods", pod, "ns")
    pods.items["ns/p"] = pod
    workers.ensure(pod)


async def until_status_written(client: FakeClient) -> None:
    """Wait for the workers' first status write of the pod."""
    await until(lambda: ("patch/status", "pods", "p") in client.calls)


async def test_status_is_written_only_when_it_changes(
        setup: tuple[Harness, FakeClient, Pods, PodWorkers]) -> None:
    h, client, pods, workers = setup
    pod = make_pod([app()])
    await admit(client, pods, workers, pod)
    await until_status_written(client)
    stored = client.objects[("pods", "ns", "p")]
    assert stored["status"]["phase"] == "Running"
    writes = client.calls.count(("patch/status", "pods", "p"))
    workers.wake("uid-1")
    await asyncio.sleep(0.2)
    assert client.calls.count(("patch/status", "pods", "p")) == writes
    h.runtime.exit(h.runtime.named("app")[0].id, 1)
    workers.wake("uid-1")
    await until(lambda: client.calls.count(("patch/status", "pods", "p")) > writes)
    await workers.stop()
    assert h.runtime.named("app")[0].running  # stopping the kubelet leaves pods running


async def test_a_deleted_pod_is_stopped_removed_and_then_deleted_for_good(
        setup: tuple[Harness, FakeClient, Pods, PodWorkers]) -> None:
    h, client, pods, workers = setup
    pod = make_pod([app()], terminationGracePeriodSeconds=5)
    await admit(client, pods, workers, pod)
    await until(lambda: bool(h.runtime.named("app")))
    deleting = deepcopy_json(pod)
    deleting["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z",
                                deletionGracePeriodSeconds=5)
    pods.items["ns/p"] = deleting
    workers.update(pod, deleting)
    await until(lambda: client.deletes != [])
    assert client.deletes == [("pods", "p", {"grace_period_seconds": 0,
                                             "preconditions": {"uid": "uid-1"}})]
    assert h.runtime.containers == {}
    assert ("Normal", "Killing", "Stopping container app", "spec.containers{app}") \
        in h.recorder.events
    await until(lambda: workers.uids() == set())


async def test_containers_of_a_vanished_pod_are_torn_down(
        setup: tuple[Harness, FakeClient, Pods, PodWorkers]) -> None:
    h, client, pods, workers = setup
    pod = make_pod([app()])
    await admit(client, pods, workers, pod)
    await until(lambda: bool(h.runtime.named("app")))
    del pods.items["ns/p"]
    calls = len(client.calls)
    workers.wake("uid-1")
    await until(lambda: h.runtime.containers == {})
    assert client.calls[calls:] == []  # nothing to tell the API
    workers.orphan("uid-other")
    await until(lambda: workers.uids() == set())


async def test_active_deadline_fails_the_pod(
        setup: tuple[Harness, FakeClient, Pods, PodWorkers]) -> None:
    h, client, pods, workers = setup
    pod = make_pod([app()], activeDeadlineSeconds=30)
    pod["status"]["startTime"] = "2020-01-01T00:00:00Z"
    await admit(client, pods, workers, pod)
    await until(lambda: client.objects[("pods", "ns", "p")]["status"].get("phase") == "Failed")
    status = client.objects[("pods", "ns", "p")]["status"]
    assert status["reason"] == "DeadlineExceeded"
    assert not any(c.running for c in h.runtime.containers.values())
    assert "DeadlineExceeded" in h.recorder.reasons()
    await workers.stop()


async def test_own_start_events_do_not_wake_the_worker_but_a_death_does(
        setup: tuple[Harness, FakeClient, Pods, PodWorkers]) -> None:
    h, client, pods, workers = setup
    pod = make_pod([app()])
    await admit(client, pods, workers, pod)
    await until_status_written(client)
    await asyncio.sleep(0.05)
    passes = len([c for c in client.calls if c[0] == "patch/status"])
    listed = h.runtime.pod_containers
    listings: list[str] = []

    async def pod_containers(uid: str) -> list[Any]:
        listings.append(uid)
        return await listed(uid)

    h.runtime.pod_containers = pod_containers  # type: ignore[method-assign]
    [container] = h.runtime.named("app")
    [sandbox] = h.runtime.named("POD")
    workers.container_event("uid-1", sandbox.id, "start")
    workers.container_event("uid-1", container.id, "start")
    await asyncio.sleep(0.1)
    assert listings == []  # the events it caused itself
    h.runtime.exit(container.id, 1)
    workers.container_event("uid-1", container.id, "die")
    await until(lambda: bool(listings))
    await until(lambda: len([c for c in client.calls if c[0] == "patch/status"]) > passes)
    seen = len(listings)
    workers.container_event("uid-1", container.id, "start")  # not expected twice: wakes
    await until(lambda: len(listings) > seen)
    await workers.stop()
