"""GarbageCollector: background, foreground and orphan propagation over seeded caches."""

from __future__ import annotations

from typing import Any

from controllers.garbagecollector import FOREGROUND, ORPHAN, GarbageCollector
from tests.controllers.fakeclient import FakeClient, drain, fake_context

Obj = dict[str, Any]
NS = "ns1"
GONE = "2024-01-01T00:00:00Z"


def ref(owner: Obj, *, block: bool = False, controller: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": controller, "blockOwnerDeletion": block}


def rs(name: str, **meta: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", **meta},
            "spec": {"replicas": 1}}


def pod(name: str, *owners: Obj, **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                         "ownerReferences": list(owners), **meta},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def setup() -> tuple[GarbageCollector, FakeClient]:
    ctx, client, _ = fake_context()
    return GarbageCollector(ctx), client


def verbs(client: FakeClient) -> list[tuple[str, str, str | None]]:
    return [(a.verb, a.resource, a.name) for a in client.writes()]


async def test_dependent_of_a_vanished_owner_is_deleted_after_a_live_check() -> None:
    gc, client = setup()
    owner = rs("web")  # never stored: gone from cache and server
    client.seed(pod("web-1", ref(owner)))

    await gc.reconcile("uid-web-1")

    gets = [a for a in client.actions if a.verb == "get"]
    assert [(a.resource, a.name) for a in gets] == [("replicasets.apps", "web")]
    [delete] = client.writes()
    assert (delete.verb, delete.name) == ("delete", "web-1")
    assert delete.options == {"propagationPolicy": "Background",
                              "preconditions": {"uid": "uid-web-1"}}
    assert client.stored("pods", "web-1", NS) is None


async def test_background_reconcile_twice_changes_nothing_the_second_time() -> None:
    gc, client = setup()
    client.seed(pod("web-1", ref(rs("web"))))
    await gc.reconcile("uid-web-1")
    writes = len(client.writes())

    await gc.reconcile("uid-web-1")

    assert len(client.writes()) == writes == 1


async def test_live_owner_missing_from_cache_keeps_its_dependent() -> None:
    gc, client = setup()
    owner = rs("web")
    client.seed(pod("web-1", ref(owner)))
    client.objects[("replicasets.apps", NS, "web")] = {**owner, "metadata": {
        **owner["metadata"], "resourceVersion": "1"}}  # on the server, not yet in the cache

    await gc.reconcile("uid-web-1")

    assert client.writes() == []


async def test_owner_recreated_under_the_same_name_counts_as_gone() -> None:
    gc, client = setup()
    old = rs("web")
    client.seed(rs("web", uid="uid-web-again"), pod("web-1", ref(old)))

    await gc.reconcile("uid-web-1")

    assert verbs(client) == [("delete", "pods", "web-1")]


async def test_owner_in_cache_means_no_api_calls_at_all() -> None:
    gc, client = setup()
    [owner] = client.seed(rs("web"))
    client.seed(pod("web-1", ref(owner)))

    await gc.reconcile("uid-web-1")

    assert client.actions == []


async def test_dangling_reference_beside_a_live_owner_is_removed() -> None:
    gc, client = setup()
    [alive] = client.seed(rs("alive"))
    client.seed(pod("p", ref(alive, controller=False), ref(rs("dead"), controller=False)))

    await gc.reconcile("uid-p")

    [patch] = client.writes()
    assert patch.verb == "patch" and patch.name == "p"
    assert patch.body["metadata"]["ownerReferences"] == [ref(alive, controller=False)]
    assert patch.body["metadata"]["resourceVersion"]  # optimistic: never clobbers a newer edit
    await gc.reconcile("uid-p")
    assert len(client.writes()) == 1


async def test_unknown_owner_kind_is_never_collected() -> None:
    gc, client = setup()
    alien = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "uid-w"}
    client.seed(pod("p", alien))

    await gc.reconcile("uid-p")

    assert client.writes() == []


async def test_foreground_owner_waits_for_blocking_dependents_then_goes() -> None:
    gc, client = setup()
    [owner] = client.seed(rs("web", deletionTimestamp=GONE, finalizers=[FOREGROUND]))
    client.seed(pod("blocking", ref(owner, block=True)), pod("loose", ref(owner, block=False)))

    await gc.reconcile("uid-web")
    assert client.writes() == []  # dependents are judged first; the owner keeps its finalizer
    assert {"uid-blocking", "uid-loose"} <= set(await _queued(gc))

    await gc.reconcile("uid-blocking")
    await gc.reconcile("uid-loose")
    deletes = {a.name: a.options["propagationPolicy"] for a in client.writes() if a.verb == "delete"}
    assert deletes == {"blocking": "Foreground", "loose": "Background"}
    assert client.stored("pods", "loose", NS) is None
    blocking = client.stored("pods", "blocking", NS)
    assert blocking is not None and blocking["metadata"]["finalizers"] == [FOREGROUND]
    assert client.stored("replicasets", "web", NS) is not None  # still blocked

    await drain(gc)

    assert client.stored("pods", "blocking", NS) is None
    assert client.stored("replicasets", "web", NS) is None
    finalizer_patches = [a for a in client.writes() if a.verb == "patch"]
    assert [a.name for a in finalizer_patches] == ["blocking", "web"]
    assert all(a.body["metadata"]["finalizers"] is None for a in finalizer_patches)


async def test_foreground_owner_without_dependents_loses_its_finalizer_once() -> None:
    gc, client = setup()
    client.seed(rs("web", deletionTimestamp=GONE, finalizers=[FOREGROUND, "example.com/keep"]))

    await gc.reconcile("uid-web")
    await gc.reconcile("uid-web")

    [patch] = client.writes()
    assert patch.body["metadata"]["finalizers"] == ["example.com/keep"]


async def test_dependent_with_another_live_owner_survives_a_foreground_owner() -> None:
    gc, client = setup()
    [owner] = client.seed(rs("web", deletionTimestamp=GONE, finalizers=[FOREGROUND]))
    [other] = client.seed(rs("other"))
    client.seed(pod("shared", ref(owner, block=True, controller=False),
                    ref(other, controller=False)))

    await drain(gc)

    shared = client.stored("pods", "shared", NS)
    assert shared is not None and shared["metadata"]["ownerReferences"] == [
        ref(other, controller=False)]
    assert client.stored("replicasets", "web", NS) is None


async def test_orphan_strips_references_then_removes_the_finalizer() -> None:
    gc, client = setup()
    [owner] = client.seed(rs("web", deletionTimestamp=GONE, finalizers=[ORPHAN]))
    [other] = client.seed(rs("other"))
    client.seed(pod("a", ref(owner)), pod("b", ref(owner, controller=False),
                                          ref(other, controller=False)))

    await gc.reconcile("uid-web")

    assert verbs(client) == [("patch", "pods", "a"), ("patch", "pods", "b"),
                             ("patch", "replicasets.apps", "web")]
    assert "ownerReferences" not in client.stored("pods", "a", NS)["metadata"]  # type: ignore[index]
    assert client.stored("pods", "b", NS)["metadata"]["ownerReferences"] == [  # type: ignore[index]
        ref(other, controller=False)]
    assert client.stored("replicasets", "web", NS) is None
    await gc.reconcile("uid-web")
    assert len(client.writes()) == 3


async def test_handlers_enqueue_dependents_of_a_deleted_owner() -> None:
    gc, client = setup()
    [owner] = client.seed(rs("web"))
    client.seed(pod("web-1", ref(owner)))
    await drain(gc)
    assert client.writes() == []

    await client.delete("replicasets", "web", NS)
    processed = await drain(gc)

    assert "uid-web-1" in processed
    assert client.stored("pods", "web-1", NS) is None


async def _queued(gc: GarbageCollector) -> list[str]:
    keys = []
    while len(gc.queue):
        key = await gc.queue.get()
        gc.queue.done(key)
        keys.append(key)
    for key in keys:
        gc.queue.add(key)
    return keys
