"""PVCProtectionController: the finalizer holds a claim while a pod may still use it."""

from __future__ import annotations

from typing import Any

from controllers.pvcprotection import PVC_PROTECTION, PVCProtectionController, pod_uses_claim
from tests.controllers.fakeclient import FakeClient, fake_context

Obj = dict[str, Any]
KEY = "default/data"


def setup() -> tuple[PVCProtectionController, FakeClient]:
    ctx, client, _ = fake_context()
    return PVCProtectionController(ctx), client


def claim(finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": "data", "namespace": "default"}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"]}}


def pod(name: str = "web-0", node: str = "n1", phase: str = "Running") -> Obj:
    spec: Obj = {"volumes": [{"name": "www", "persistentVolumeClaim": {"claimName": "data"}}],
                 "containers": [{"name": "c", "image": "k8py/hello:1.0"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec,
            "status": {"phase": phase}}


def finalizers(client: FakeClient) -> list[str] | None:
    stored = client.stored("persistentvolumeclaims", "data", "default")
    return None if stored is None else list(stored["metadata"].get("finalizers") or [])


async def test_the_finalizer_is_added_to_claims_without_it() -> None:
    controller, client = setup()
    client.seed(claim())

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)

    assert finalizers(client) == [PVC_PROTECTION]
    assert len(client.writes()) == 1  # idempotent: the second pass writes nothing


async def test_a_claim_in_use_is_held_until_its_pod_is_gone() -> None:
    controller, client = setup()
    client.seed(claim([PVC_PROTECTION]), pod())
    await client.delete("persistentvolumeclaims", "data", "default")

    await controller.reconcile(KEY)
    assert finalizers(client) == [PVC_PROTECTION]  # web-0 still runs
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())

    await client.delete("pods", "web-0", "default")  # no finalizers: gone at once
    assert await controller.queue.get() == KEY  # the pod's deletion woke the claim
    controller.queue.done(KEY)
    await controller.reconcile(KEY)

    assert finalizers(client) is None  # the last finalizer went, so did the claim


async def test_a_finished_pod_does_not_hold_the_claim() -> None:
    controller, client = setup()
    client.seed(claim([PVC_PROTECTION, "example.com/other"]), pod(phase="Succeeded"))
    await client.delete("persistentvolumeclaims", "data", "default")

    await controller.reconcile(KEY)

    assert finalizers(client) == ["example.com/other"]


async def test_a_pod_the_cache_has_not_seen_still_holds_the_claim() -> None:
    controller, client = setup()
    client.seed(claim([PVC_PROTECTION]), pod())
    controller.pods.indexer.delete("default/web-0")  # the cache lags behind
    await client.delete("persistentvolumeclaims", "data", "default")

    await controller.reconcile(KEY)

    assert finalizers(client) == [PVC_PROTECTION]


def test_which_pods_count_as_users() -> None:
    assert pod_uses_claim(pod(), "data")
    assert not pod_uses_claim(pod(), "other")
    assert not pod_uses_claim(pod(node=""), "data")  # never started, so never mounted
    assert not pod_uses_claim(pod(phase="Failed"), "data")
    forced = pod()
    forced["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z",
                              deletionGracePeriodSeconds=0)
    assert not pod_uses_claim(forced, "data")
    going = pod()
    going["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z",
                             deletionGracePeriodSeconds=30)
    assert pod_uses_claim(going, "data")  # still shutting down: its volume is mounted
    ephemeral = pod()
    ephemeral["spec"]["volumes"] = [{"name": "scratch", "ephemeral": {}}]
    assert pod_uses_claim(ephemeral, "web-0-scratch")
