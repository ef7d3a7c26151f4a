"""Proxier.sync over seeded caches, a fake Docker view and recording writers."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeproxy.netns import Sandbox
from kubeproxy.proxier import ProxyConfig, Proxier
from kubeproxy.rules import Ruleset
from kubeproxy.userspace import ListenerKey, Target
from machinery.client import ApiClient
from tests.kubeproxy.test_rules import endpoint, service, slice_

NODE = "node-1"


class FakeSource:
    def __init__(self, *sandboxes: Sandbox) -> None:
        self.live = {s.id: s for s in sandboxes}

    async def running(self) -> dict[str, Sandbox]:
        return dict(self.live)

    async def inspect(self, container_id: str) -> Sandbox | None:
        return self.live.get(container_id)

    def close(self) -> None:
        pass


class FakeWriter:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.writes: list[tuple[str, Ruleset]] = []
        self.forgotten: list[str] = []
        self.failing = failing or set()
        self.digests: dict[str, str] = {}

    async def apply(self, sandbox: Sandbox, ruleset: Ruleset) -> bool:
        if sandbox.id in self.failing:
            raise OSError(f"cannot enter {sandbox.pid}")
        if self.digests.get(sandbox.id) == ruleset.digest:
            return False
        self.digests[sandbox.id] = ruleset.digest
        self.writes.append((sandbox.id, ruleset))
        return True

    def forget(self, sandbox_id: str) -> None:
        self.forgotten.append(sandbox_id)
        self.digests.pop(sandbox_id, None)

    def retain(self, sandbox_ids: set[str]) -> None:
        for gone in set(self.digests) - sandbox_ids:
            del self.digests[gone]


class FakeListeners:
    def __init__(self) -> None:
        self.open: dict[ListenerKey, Target] = {}

    async def update(self, plan: dict[ListenerKey, Target]) -> None:
        self.open = dict(plan)

    async def close_all(self) -> None:
        self.open = {}


def proxier(source: FakeSource, writer: FakeWriter, *objects: dict[str, Any]) -> Proxier:
    client = ApiClient("http://127.0.0.1:9")  # never called: the caches are seeded
    proxy = Proxier(client, ProxyConfig(node_name=NODE, node_ip="127.0.1.1"),
                    source=source, writer=writer, listeners=FakeListeners())  # type: ignore[arg-type]
    proxy._loop = asyncio.get_running_loop()
    proxy.services.replace([o for o in objects if o["kind"] == "Service"], "1")
    proxy.slices.replace([o for o in objects if o["kind"] == "EndpointSlice"], "1")
    return proxy


def sandbox(name: str, pid: int) -> Sandbox:
    return Sandbox(f"id-{name}", pid, f"shop/{name}")


async def test_sync_writes_one_ruleset_into_every_sandbox_and_opens_node_ports() -> None:
    writer = FakeWriter()
    web = service(type="NodePort", ports=[{"name": "http", "port": 80, "protocol": "TCP",
                                           "targetPort": 8080, "nodePort": 30080}])
    proxy = proxier(FakeSource(sandbox("a", 10), sandbox("b", 11)), writer, web,
                    slice_("web", endpoint("10.244.0.5")))
    await proxy.sync()
    assert sorted(i for i, _ in writer.writes) == ["id-a", "id-b"]
    assert len({r.digest for _, r in writer.writes}) == 1
    assert sorted((k.ip, k.port) for k in proxy.listeners.open) == [
        ("127.0.0.1", 30080), ("127.0.1.1", 30080)]
    assert proxy.synced_once
    await proxy.sync()
    assert len(writer.writes) == 2  # unchanged rules are not written again


async def test_a_changed_slice_is_written_on_the_next_sync() -> None:
    writer = FakeWriter()
    proxy = proxier(FakeSource(sandbox("a", 10)), writer, service(),
                    slice_("web", endpoint("10.244.0.5")))
    await proxy.sync()
    proxy.slices.apply({"type": "MODIFIED", "object": slice_("web", endpoint("10.244.0.5"),
                                                             endpoint("10.244.0.6"))})
    assert proxy._wake.is_set()
    await proxy.sync()
    assert len(writer.writes) == 2
    assert sum("DNAT" in rule for rule in writer.writes[-1][1].rules) == 2


async def test_started_sandboxes_get_rules_and_dead_ones_are_forgotten() -> None:
    writer = FakeWriter()
    source = FakeSource(sandbox("a", 10))
    proxy = proxier(source, writer, service(), slice_("web", endpoint("10.244.0.5")))
    await proxy.sync()
    new = sandbox("b", 12)
    source.live[new.id] = new
    proxy._sandbox_event("start", new.id)
    assert proxy._wake.is_set()
    await proxy.sync()
    assert [i for i, _ in writer.writes] == ["id-a", "id-b"]
    proxy._sandbox_event("die", "id-a")
    assert writer.forgotten == ["id-a"] and set(proxy.sandboxes) == {"id-b"}


async def test_a_sandbox_that_died_during_the_write_is_dropped_quietly() -> None:
    writer = FakeWriter(failing={"id-a"})
    source = FakeSource(sandbox("a", 10))
    proxy = proxier(source, writer, service(), slice_("web", endpoint("10.244.0.5")))
    await proxy._refresh_sandboxes()
    del source.live["id-a"]
    await proxy.sync()
    assert proxy.sandboxes == {} and writer.writes == []
