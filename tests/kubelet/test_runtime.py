"""DockerRuntime against a fake Docker API: a pod's containers are inspected only when changed."""

from __future__ import annotations

import asyncio
from typing import Any

import docker.errors

from kubelet.runtime import LABEL_POD_UID, DockerRuntime

Obj = dict[str, Any]


class FakeApi:
    """The few ``docker.APIClient`` calls ``pod_containers`` and friends make."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.gate: asyncio.Event | None = None

    def containers(self, all: bool, filters: dict[str, list[str]]) -> list[Obj]:
        self.calls.append(("containers", ""))
        return [{"Id": i, "State": state} for i, state in self.states.items()]

    def inspect_container(self, container_id: str) -> Obj:
        self.calls.append(("inspect", container_id))
        if container_id not in self.states:
            raise docker.errors.NotFound("gone")
        return {"Id": container_id, "Name": f"/{container_id}",
                "Config": {"Labels": {LABEL_POD_UID: "uid-1"}},
                "State": {"Status": self.states[container_id], "Pid": 7}}

    def start(self, container_id: str) -> None:
        self.states[container_id] = "running"

    def stop(self, container_id: str, timeout: int) -> None:
        self.states[container_id] = "exited"

    def remove_container(self, container_id: str, force: bool, v: bool) -> None:
        self.states.pop(container_id, None)


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeApi()

    def close(self) -> None:
        pass


def runtime() -> tuple[DockerRuntime, FakeApi]:
    client = FakeClient()
    return DockerRuntime("unix:///nowhere", "c", "n", "net", client=client), client.api  # type: ignore[arg-type]


def inspected(api: FakeApi) -> list[str]:
    return [i for verb, i in api.calls if verb == "inspect"]


async def test_unchanged_containers_are_not_inspected_again() -> None:
    rt, api = runtime()
    api.states = {"a": "running", "b": "exited"}
    try:
        first = await rt.pod_containers("uid-1")
        assert sorted(inspected(api)) == ["a", "b"]
        again = await rt.pod_containers("uid-1")
        assert sorted(inspected(api)) == ["a", "b"]  # one listing each, no inspections
        assert {c.id: c.state for c in again} == {c.id: c.state for c in first}
        api.states["a"] = "exited"  # a state change the listing shows
        assert {c.id: c.state for c in await rt.pod_containers("uid-1")}["a"] == "exited"
        assert inspected(api)[-1] == "a" and len(inspected(api)) == 3
    finally:
        rt.close()


async def test_events_own_actions_and_broken_streams_invalidate() -> None:
    rt, api = runtime()
    api.states = {"a": "running"}
    try:
        await rt.pod_containers("uid-1")
        rt.changed("a")  # a Docker event: say a restart by hand, same state in the listing
        await rt.pod_containers("uid-1")
        assert inspected(api) == ["a", "a"]
        await rt.stop("a", 0)
        await rt.start("a")
        await rt.pod_containers("uid-1")
        assert inspected(api) == ["a", "a", "a"]
        rt.forget_inspections()
        await rt.pod_containers("uid-1")
        assert inspected(api) == ["a", "a", "a", "a"]
        await rt.remove("a")
        assert await rt.pod_containers("uid-1") == []
    finally:
        rt.close()


async def test_an_inspection_overtaken_by_a_change_is_not_kept() -> None:
    rt, api = runtime()
    api.states = {"a": "running"}
    try:
        loop = asyncio.get_running_loop()
        real = api.inspect_container

        def slow_inspect(container_id: str) -> Obj:
            data = real(container_id)
            # An event arrives while the answer is on its way back.
            loop.call_soon_threadsafe(rt.changed, container_id)
            return data

        api.inspect_container = slow_inspect  # type: ignore[method-assign]
        await rt.inspect("a")
        await asyncio.sleep(0.01)
        api.inspect_container = real  # type: ignore[method-assign]
        await rt.pod_containers("uid-1")
        assert inspected(api) == ["a", "a"]
    finally:
        rt.close()


async def test_the_node_listing_forgets_removed_containers() -> None:
    rt, api = runtime()
    api.states = {"a": "running", "b": "running"}
    try:
        await rt.pod_containers("uid-1")
        del api.states["b"]
        await rt.list_summaries()
        assert set(rt._inspected) == {"a"} and set(rt._generation) <= {"a"}
    finally:
        rt.close()
