"""ReplicaSetController against a recording fake client and seeded informer caches."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.refmanager import AdoptionRefused
from controllers.replicaset import ReplicaSetController
from machinery import errors
from machinery.reconciler import Requeue
from tests.controllers.fakeclient import FakeClient, fake_context
from tests.controllers.workloads import make_ready, pod, pods_of, replicaset


def setup() -> tuple[ReplicaSetController, FakeClient, Any]:
    ctx, client, _ = fake_context()
    return ReplicaSetController(ctx), client, ctx


def creates(client: FakeClient) -> list[Any]:
    return [a for a in client.writes() if a.verb == "create" and a.resource == "pods"]


async def test_creates_missing_pods_from_the_template() -> None:
    controller, client, ctx = setup()
    [rs] = client.seed(replicaset(replicas=3))

    await controller.reconcile("default/web")

    made = pods_of(client, rs)
    assert len(made) == 3
    for p in made:
        assert p["metadata"]["generateName"] == "web-"
        assert p["metadata"]["labels"] == {"app": "web"}
        [ref] = p["metadata"]["ownerReferences"]
        assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                       "uid": rs["metadata"]["uid"], "controller": True,
                       "blockOwnerDeletion": True}
    status = client.stored("replicasets", "web", "default")["status"]  # type: ignore[index]
    assert status["replicas"] == 0 and status["observedGeneration"] == 1
    events = ctx.events.recorders["replicaset-controller"].events
    assert sorted(e[1] for e in events) == ["SuccessfulCreate"] * 3


async def test_reconciling_twice_writes_nothing_more() -> None:
    controller, client, _ = setup()
    client.seed(replicaset(replicas=3))
    await controller.reconcile("default/web")
    await controller.reconcile("default/web")  # status catches up with the new pods
    before = len(client.writes())

    await controller.reconcile("default/web")

    assert len(client.writes()) == before
    assert len(pods_of(client)) == 3


async def test_pending_expectations_block_a_second_round_of_creates() -> None:
    controller, client, _ = setup()
    client.factory = None  # the informer never hears of the pods we create
    controller.rs_informer.indexer.add(client.seed(replicaset(replicas=2))[0])

    await controller.reconcile("default/web")
    await controller.reconcile("default/web")

    assert len(creates(client)) == 2
    assert not controller.expectations.satisfied("default/web")


async def test_expectations_expire_after_five_minutes() -> None:
    controller, client, ctx = setup()
    client.factory = None
    controller.rs_informer.indexer.add(client.seed(replicaset(replicas=2))[0])
    await controller.reconcile("default/web")

    await ctx.clock.advance(301)
    await controller.reconcile("default/web")

    assert len(creates(client)) == 4  # the cache still shows none, and we stopped waiting


async def test_slow_start_stops_at_the_first_failing_batch() -> None:
    controller, client, ctx = setup()
    client.seed(replicaset(replicas=10))
    real_create = client.create
    calls = 0

    async def flaky_create(resource: Any, obj: Any, namespace: Any = None, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 4:
            raise errors.Forbidden("exceeded quota")
        return await real_create(resource, obj, namespace, **kw)

    client.create = flaky_create  # type: ignore[method-assign]
    with pytest.raises(errors.Forbidden):  # surfaces, so the key is retried
        await controller.reconcile("default/web")

    # Batches of 1, 2, then 4 of which 1 succeeds: 7 calls, 4 pods, nothing more tried.
    assert calls == 7
    assert len(pods_of(client)) == 4
    assert controller.expectations.satisfied("default/web")
    status = client.stored("replicasets", "web", "default")["status"]  # type: ignore[index]
    [failure] = status["conditions"]
    assert (failure["type"], failure["reason"]) == ("ReplicaFailure", "FailedCreate")
    reasons = [e[1] for e in ctx.events.recorders["replicaset-controller"].events]
    assert reasons.count("FailedCreate") == 3 and reasons.count("SuccessfulCreate") == 4


async def test_scale_down_deletes_the_least_valuable_pods() -> None:
    controller, client, ctx = setup()
    [rs] = client.seed(replicaset(replicas=2))
    client.seed(
        pod("ready-old", owner=rs, node="n1", phase="Running", ready_since="2024-01-01T00:00:00Z"),
        pod("ready-new", owner=rs, node="n2", phase="Running", ready_since="2024-01-01T00:00:00Z"),
        pod("pending", owner=rs, node="n1"),
        pod("unscheduled", owner=rs),
    )

    await controller.reconcile("default/web")

    assert sorted(p["metadata"]["name"] for p in pods_of(client)) == ["ready-new", "ready-old"]
    messages = sorted(e[2] for e in ctx.events.recorders["replicaset-controller"].events)
    assert messages == ["Deleted pod: pending", "Deleted pod: unscheduled"]


async def test_orphans_are_adopted_and_strays_released() -> None:
    controller, client, _ = setup()
    [rs] = client.seed(replicaset(replicas=2))
    client.seed(pod("orphan"), pod("stray", app="other", owner=rs),
                pod("foreign", owner={"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                      "metadata": {"name": "x", "uid": "uid-x"}}))

    await controller.reconcile("default/web")

    orphan = client.stored("pods", "orphan", "default")
    stray = client.stored("pods", "stray", "default")
    foreign = client.stored("pods", "foreign", "default")
    assert orphan["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]  # type: ignore[index]
    assert not stray["metadata"].get("ownerReferences")  # type: ignore[index]
    assert foreign["metadata"]["ownerReferences"][0]["uid"] == "uid-x"  # type: ignore[index]
    assert len(pods_of(client, rs)) == 2  # the orphan plus one new pod


async def test_no_adoption_when_the_live_owner_is_being_deleted() -> None:
    controller, client, _ = setup()
    client.seed(replicaset(replicas=1))
    client.seed(pod("orphan"))
    live = client.stored("replicasets", "web", "default")
    live["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"  # type: ignore[index]

    with pytest.raises(AdoptionRefused, match="has just been deleted"):
        await controller.reconcile("default/web")
    assert not client.stored("pods", "orphan", "default")["metadata"].get("ownerReferences")  # type: ignore[index]


async def test_status_counts_and_min_ready_requeue() -> None:
    controller, client, ctx = setup()
    await ctx.clock.advance(100)  # wall clock: 2024-01-01T00:01:40Z
    [rs] = client.seed(replicaset(replicas=3, min_ready=30))
    client.seed(
        pod("a", owner=rs, phase="Running", ready_since="2024-01-01T00:00:00Z"),
        pod("b", owner=rs, phase="Running", ready_since="2024-01-01T00:01:30Z"),
        pod("c", owner=rs, app="web", labels={"app": "web", "extra": "1"}),
    )

    result = await controller.reconcile("default/web")

    status = client.stored("replicasets", "web", "default")["status"]  # type: ignore[index]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
                      "availableReplicas": 1, "observedGeneration": 1}
    # b turns available 30 s after 00:01:30, i.e. 20 s from now.
    assert isinstance(result, Requeue) and 20 <= result.after <= 21


async def test_ready_pods_are_counted_after_a_status_update() -> None:
    controller, client, _ = setup()
    [rs] = client.seed(replicaset(replicas=2))
    await controller.reconcile("default/web")
    await make_ready(client, pods_of(client, rs))

    await controller.reconcile("default/web")

    status = client.stored("replicasets", "web", "default")["status"]  # type: ignore[index]
    assert status["readyReplicas"] == 2 and status["availableReplicas"] == 2


async def test_pod_events_settle_expectations_and_enqueue_the_owner() -> None:
    controller, client, _ = setup()
    [rs] = client.seed(replicaset(replicas=1))
    controller.expectations.expect_creations("default/web", 1)
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())

    client.seed(pod("p", owner=rs))

    assert controller.expectations.satisfied("default/web")
    assert await controller.queue.get() == "default/web"


async def test_deleted_replicaset_forgets_its_expectations() -> None:
    controller, client, _ = setup()
    controller.expectations.expect_creations("default/gone", 3)

    assert await controller.reconcile("default/gone") is None

    assert controller.expectations.get("default/gone") is None
    assert client.writes() == []
