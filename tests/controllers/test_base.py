"""QueueController: waits for its caches, then reconciles keys and counts the outcomes."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from controllers.base import QueueController, ensure_index
from machinery.reconciler import Requeue
from tests.controllers.fakeclient import fake_context


class Echo(QueueController):
    def __init__(self, informers: list) -> None:
        super().__init__("echo-test", informers)
        self.seen: list[str] = []

    async def reconcile(self, key: str) -> Requeue | None:
        self.seen.append(key)
        if key == "bad":
            raise RuntimeError("boom")
        return Requeue(after=60) if key == "later" else None


def count(result: str) -> float:
    return REGISTRY.get_sample_value("k8py_controller_reconcile_total",
                                     {"controller": "echo-test", "result": result}) or 0.0


async def test_run_waits_for_sync_then_reconciles_and_counts() -> None:
    ctx, _, _ = fake_context()
    informer = ctx.informers.informer("configmaps")
    controller = Echo([informer])
    before = {r: count(r) for r in ("success", "requeue", "error")}
    for key in ("ok", "later", "bad"):
        controller.queue.add(key)
    task = asyncio.ensure_future(controller.run(2))
    await asyncio.sleep(0.05)
    assert controller.seen == []  # the cache has not synced yet

    informer.replace([], "1")
    for _ in range(100):
        if len(controller.seen) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert sorted(controller.seen[:3]) == ["bad", "later", "ok"]
    counted = {r: count(r) - before[r] for r in before}
    assert (counted["success"], counted["requeue"]) == (1, 1)
    assert counted["error"] >= 1  # "bad" is retried with back-off until cancelled
    assert controller.queue.shutting_down()


def test_ensure_index_tolerates_a_shared_informer() -> None:
    ctx, _, _ = fake_context()
    informer = ctx.informers.informer("pods")
    ensure_index(informer, "byNode", lambda o: [o["spec"].get("nodeName", "")])
    ensure_index(informer, "byNode", lambda o: [])
    informer.indexer.add({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n"}})
    assert [p["metadata"]["name"] for p in informer.indexer.by_index("byNode", "n")] == ["p"]
