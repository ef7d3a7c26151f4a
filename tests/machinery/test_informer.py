"""Informer caches, indexes, handlers, tombstones and the shared factory."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from tests.machinery.client_fakeapi import FakeApiServer

from machinery import informer as informer_module
from machinery.client import ApiClient
from machinery.informer import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    Informer,
    SharedInformerFactory,
    meta_key,
    split_key,
)
from machinery.resources import lookup
from machinery.workqueue import FakeClock

PODS = lookup("pods")
NODES = lookup("nodes")
assert PODS and NODES


def pod(name: str, namespace: str = "ns", node: str | None = None, **labels: str) -> dict:
    spec = {"nodeName": node} if node else {}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec}


class Log:
    """Handlers that record what they saw, and what the cache held when they ran."""

    def __init__(self, inf: Informer) -> None:
        self.inf = inf
        self.events: list[tuple[str, str, bool]] = []
        self.tombstones: list[DeletedFinalStateUnknown] = []

    def on_add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", meta_key(obj), meta_key(obj) in self.inf.indexer))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        cached = self.inf.get(meta_key(new)) is new
        self.events.append(("update", meta_key(new), cached))

    def on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.tombstones.append(obj)
            self.events.append(("tombstone", obj.key, obj.key in self.inf.indexer))
        else:
            self.events.append(("delete", meta_key(obj), meta_key(obj) in self.inf.indexer))

    def register(self) -> None:
        self.inf.add_handler(on_add=self.on_add, on_update=self.on_update,
                             on_delete=self.on_delete)


def test_exports_exist() -> None:
    for name in informer_module.__all__:
        assert hasattr(informer_module, name), name


def test_keys() -> None:
    assert meta_key(pod("a", "ns")) == "ns/a"
    assert meta_key({"metadata": {"name": "n1"}}) == "n1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("n1") == (None, "n1")


def test_indexer_keeps_indexes_in_step() -> None:
    idx = Indexer()
    idx.add(pod("a", node="n1"))
    idx.add(pod("b", node="n1"))
    idx.add(pod("c", "other", node="n2"))
    idx.add_indexer("node", lambda o: [o["spec"]["nodeName"]] if o["spec"].get("nodeName") else [])
    idx.add_indexer(NAMESPACE_INDEX, lambda o: [o["metadata"]["namespace"]])
    assert [meta_key(o) for o in idx.by_index("node", "n1")] == ["ns/a", "ns/b"]
    idx.update(pod("b", node="n2"))
    assert idx.index_keys("node", "n2") == {"ns/b", "other/c"}
    assert idx.index_keys("node", "n1") == {"ns/a"}
    assert idx.delete("ns/a") is not None
    assert idx.by_index("node", "n1") == []
    assert idx.delete(pod("zzz")) is None
    assert idx.get("ns/b") is idx.get(pod("b")) is idx.get_by_key("ns/b")
    assert sorted(idx.keys()) == ["ns/b", "other/c"] and len(idx) == 2
    assert [meta_key(o) for o in idx.by_index(NAMESPACE_INDEX, "other")] == ["other/c"]
    with pytest.raises(ValueError):
        idx.add_indexer("node", lambda o: [])
    with pytest.raises(KeyError):
        idx.by_index("nope", "x")


async def test_sync_then_events_reach_handlers_after_the_cache(server: FakeApiServer,
                                                               api: ApiClient) -> None:
    server.put(PODS, pod("a"))
    inf = Informer(api, "pods", "ns")
    log = Log(inf)
    log.register()
    assert not inf.has_synced()
    await inf.start()
    assert await inf.wait_for_sync(timeout=2)
    assert log.events == [("add", "ns/a", True)]
    await server.wait_for_watchers()
    server.put(PODS, pod("b"))
    server.put(PODS, pod("a", app="x"))
    server.remove(PODS, "ns", "b")
    server.put(PODS, pod("elsewhere", "other"))
    for _ in range(50):
        await asyncio.sleep(0)
    assert log.events[1:] == [("add", "ns/b", True), ("update", "ns/a", True),
                              ("delete", "ns/b", False)]
    assert inf.list() == [inf.get("ns/a")]
    assert inf.get("ns/a")["metadata"]["labels"] == {"app": "x"}  # type: ignore[index]
    await inf.stop()
    assert not inf.running()
    assert server.watchers == set()


async def test_relist_sends_tombstones_and_updates(server: FakeApiServer,
                                                   api: ApiClient) -> None:
    clock = FakeClock()
    for name in ("a", "b"):
        server.put(PODS, pod(name))
    inf = Informer(api, PODS, "ns", clock=clock, rand=lambda: 0.0)
    log = Log(inf)
    log.register()
    await inf.start()
    await inf.wait_for_sync(2)
    await server.wait_for_watchers()
    server.break_watches()
    await clock.advance(0)
    last_b = inf.get("ns/b")
    server.remove(PODS, "ns", "b")
    server.put(PODS, pod("c"))
    server.compact()
    await clock.advance(1)
    await server.wait_for_watchers()
    assert ("tombstone", "ns/b", False) in log.events
    assert log.tombstones[0].obj is last_b
    assert ("add", "ns/c", True) in log.events
    assert ("update", "ns/a", True) in log.events
    assert sorted(inf.indexer.keys()) == ["ns/a", "ns/c"]
    await inf.stop()


async def test_late_handler_sees_existing_objects(server: FakeApiServer, api: ApiClient) -> None:
    server.put(NODES, {"metadata": {"name": "n1"}})
    inf = Informer(api, "nodes", "ignored-for-cluster-scope")
    assert inf.namespace is None
    await inf.start()
    await inf.wait_for_sync(2)
    log = Log(inf)
    log.register()
    assert log.events == [("add", "n1", True)]
    inf.remove_handler(inf._handlers[0])
    server.put(NODES, {"metadata": {"name": "n2"}})
    await server.wait_for_watchers()
    for _ in range(20):
        await asyncio.sleep(0)
    assert log.events == [("add", "n1", True)]
    assert sorted(inf.indexer.keys()) == ["n1", "n2"]
    await inf.stop()


async def test_a_failing_handler_does_not_stop_others(server: FakeApiServer, api: ApiClient,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    inf = Informer(api, "pods")
    seen: list[str] = []

    def broken(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(on_add=broken)
    inf.add_handler(on_add=lambda o: seen.append(meta_key(o)))
    await inf.start()
    await inf.wait_for_sync(2)
    server.put(PODS, pod("a"))
    await server.wait_for_watchers()
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == ["ns/a"]
    assert "handler bug" in caplog.text
    await inf.stop()


async def test_resync_redelivers_updates(server: FakeApiServer, api: ApiClient) -> None:
    clock = FakeClock()
    server.put(PODS, pod("a"))
    inf = Informer(api, "pods", resync_period=30, clock=clock)
    updates: list[tuple[str, bool]] = []
    inf.add_handler(on_update=lambda old, new: updates.append((meta_key(new), old is new)))
    await inf.start()
    await inf.wait_for_sync(2)
    await clock.advance(29)
    assert updates == []
    await clock.advance(1)
    assert updates == [("ns/a", True)]
    await clock.advance(30)
    assert len(updates) == 2
    await inf.stop()


async def test_wait_for_sync_times_out(server: FakeApiServer, api: ApiClient) -> None:
    async def never(request: object) -> None:
        await asyncio.Event().wait()

    inf = Informer(api, "pods")
    server.transport.handler = never  # type: ignore[assignment]
    await inf.start()
    assert await inf.wait_for_sync(timeout=0.05) is False
    await inf.stop()


def test_informer_needs_a_source() -> None:
    with pytest.raises(ValueError):
        Informer(None, "pods")


async def test_factory_shares_informers(server: FakeApiServer, api: ApiClient) -> None:
    server.put(PODS, pod("a"))
    server.put(NODES, {"metadata": {"name": "n1"}})
    factory = SharedInformerFactory(api, resync_period=60)
    pods = factory.informer("pods")
    assert factory.informer(PODS) is pods
    assert factory.informer("po", None) is pods
    assert factory.informer("pods", "ns") is not pods
    assert factory.informer("pods", label_selector="app=x") is not pods
    nodes = factory.informer("nodes", "whatever")
    assert factory.informer("nodes") is nodes
    assert pods.resync_period == 60
    assert len(factory.informers()) == 4
    await factory.start()
    assert await factory.wait_for_sync(timeout=2)
    assert [meta_key(o) for o in pods.list()] == ["ns/a"]
    assert [meta_key(o) for o in pods.list("ns")] == ["ns/a"]
    assert factory.informer("pods", label_selector="app=x").list() == []
    assert [meta_key(o) for o in nodes.list()] == ["n1"]
    await factory.stop()
    assert not any(inf.running() for inf in factory.informers())


async def test_start_and_sync_logs_until_every_informer_synced(
        caplog: pytest.LogCaptureFixture) -> None:
    factory = SharedInformerFactory(ApiClient("http://127.0.0.1:1"))
    calls: list[str] = []
    answers = iter([False, False, True])

    async def start() -> None:
        calls.append("start")

    async def wait_for_sync(timeout: float | None = None) -> bool:
        calls.append(f"wait {timeout}")
        return next(answers)

    factory.start = start  # type: ignore[method-assign]
    factory.wait_for_sync = wait_for_sync  # type: ignore[method-assign]
    caplog.set_level("INFO", logger="k8py.test")
    await factory.start_and_sync(logging.getLogger("k8py.test"), "still waiting", every=0.5)
    assert calls == ["start", "wait 0.5", "wait 0.5", "wait 0.5"]
    assert [r.getMessage() for r in caplog.records if r.name == "k8py.test"] == \
        ["still waiting", "still waiting"]
    await factory.client.aclose()
