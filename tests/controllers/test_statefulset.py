"""StatefulSetController against the recording fake client and its informer caches."""

from __future__ import annotations

from typing import Any

from controllers.history import REVISION_HASH_LABEL
from controllers.statefulset import StatefulSetController
from tests.controllers.fakeclient import FakeClient, fake_context
from tests.controllers.stateful import (
    bump_template,
    set_phase,
    statefulset,
    stored,
    stored_claims,
    stored_pods,
)

KEY = "default/web"


def setup() -> tuple[StatefulSetController, FakeClient, Any]:
    ctx, client, _ = fake_context()
    return StatefulSetController(ctx), client, ctx


def status(client: FakeClient) -> dict[str, Any]:
    sts = client.stored("statefulsets", "web", "default")
    assert sts is not None
    return dict(sts["status"])


def events(ctx: Any) -> list[tuple[str, str]]:
    return [(e[1], e[2]) for e in ctx.events.recorders["statefulset-controller"].events]


async def hold(client: FakeClient, *names: str) -> None:
    """A finalizer keeps a deleted pod around, as a kubelet's graceful shutdown does."""
    for name in names:
        await client.patch("pods", name, {"metadata": {"finalizers": ["test/hold"]}}, "default")


async def bring_up(controller: StatefulSetController, client: FakeClient, count: int) -> None:
    """Reconcile, making each new pod Running and Ready, until ``count`` pods run."""
    for ordinal in range(count):
        await controller.reconcile(KEY)
        await set_phase(client, f"web-{ordinal}", "Running", ready=True)
    await controller.reconcile(KEY)


async def update_pod(controller: StatefulSetController, client: FakeClient, name: str) -> None:
    """Let the rolling update replace pod ``name`` and make the new one Running and Ready."""
    await controller.reconcile(KEY)  # deletes it (gone at once in the fake)
    await controller.reconcile(KEY)  # recreates it from the update revision
    await set_phase(client, name, "Running", ready=True)


async def test_ordered_ready_creates_one_pod_at_a_time_with_its_claim() -> None:
    controller, client, ctx = setup()
    client.seed(statefulset())

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)  # web-0 is not Running and Ready: nothing more

    pods = stored_pods(client)
    assert list(pods) == ["web-0"]
    pod = pods["web-0"]
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "web"
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels[REVISION_HASH_LABEL] == status(client)["updateRevision"]
    assert pod["spec"]["volumes"] == [{"name": "www",
                                       "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    [ref] = pod["metadata"]["ownerReferences"]
    assert ref["kind"] == "StatefulSet" and ref["controller"] is True
    claim = stored_claims(client)["www-web-0"]
    assert claim["metadata"]["labels"] == {"app": "web"}
    assert not claim["metadata"].get("ownerReferences")  # Retain/Retain: nobody owns it
    assert events(ctx) == [
        ("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success"),
        ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful")]

    await set_phase(client, "web-0", "Running", ready=True)
    await controller.reconcile(KEY)

    assert sorted(stored_pods(client)) == ["web-0", "web-1"]


async def test_status_reports_replicas_revisions_and_collisions() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=2))

    await bring_up(controller, client, 2)

    st = status(client)
    revision = st["updateRevision"]
    assert st == {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
                  "currentReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                  "currentRevision": revision, "updateRevision": revision,
                  "collisionCount": 0}
    [cr] = stored(client, "controllerrevisions").values()
    assert cr["metadata"]["name"] == revision and cr["revision"] == 1
    assert cr["data"]["spec"]["template"]["$patch"] == "replace"


async def test_reconciling_a_settled_set_writes_nothing() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=2))
    await bring_up(controller, client, 2)
    before = len(client.writes())

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)

    assert len(client.writes()) == before


async def test_parallel_creates_every_pod_at_once() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(policy="Parallel"))

    await controller.reconcile(KEY)

    assert sorted(stored_pods(client)) == ["web-0", "web-1", "web-2"]
    assert sorted(stored_claims(client)) == ["www-web-0", "www-web-1", "www-web-2"]


async def test_scale_down_removes_the_highest_ordinal_first_and_keeps_its_claim() -> None:
    controller, client, ctx = setup()
    client.seed(statefulset())
    await bring_up(controller, client, 3)
    await hold(client, "web-2")
    sts = await client.get("statefulsets", "web", "default")
    sts["spec"]["replicas"] = 1
    await client.update("statefulsets", sts)

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)  # web-2 is still terminating: web-1 waits

    pods = stored_pods(client)
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    assert pods["web-2"]["metadata"].get("deletionTimestamp")
    assert not pods["web-1"]["metadata"].get("deletionTimestamp")
    assert ("SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful") in events(ctx)
    assert sorted(stored_claims(client)) == ["www-web-0", "www-web-1", "www-web-2"]


async def test_when_scaled_delete_hands_the_claim_to_the_pod_before_deleting_it() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=2, when_scaled="Delete", when_deleted="Delete"))
    await bring_up(controller, client, 2)
    claims = stored_claims(client)
    assert [r["kind"] for r in claims["www-web-1"]["metadata"]["ownerReferences"]] == [
        "StatefulSet"]
    sts = await client.get("statefulsets", "web", "default")
    sts["spec"]["replicas"] = 1
    await client.update("statefulsets", sts)

    await controller.reconcile(KEY)

    refs = stored_claims(client)["www-web-1"]["metadata"]["ownerReferences"]
    assert [(r["kind"], r["name"]) for r in refs] == [("Pod", "web-1")]
    assert "web-1" not in stored_pods(client)
    assert [r["kind"] for r in stored_claims(client)["www-web-0"]["metadata"][
        "ownerReferences"]] == ["StatefulSet"]


async def test_rolling_update_replaces_pods_in_reverse_ordinal_order() -> None:
    controller, client, _ = setup()
    client.seed(statefulset())
    await bring_up(controller, client, 3)
    await hold(client, "web-0", "web-1", "web-2")
    old = status(client)["currentRevision"]
    await bump_template(client, "web", "k8py/toolbox:v2")

    await controller.reconcile(KEY)
    await controller.reconcile(KEY)  # web-2 is terminating: nothing else moves

    st = status(client)
    assert st["currentRevision"] == old and st["updateRevision"] != old
    pods = stored_pods(client)
    assert pods["web-2"]["metadata"].get("deletionTimestamp")
    assert not any(pods[n]["metadata"].get("deletionTimestamp") for n in ("web-0", "web-1"))

    # The kubelet finishes web-2; the controller recreates it from the new revision.
    await client.patch("pods", "web-2", {"metadata": {"finalizers": None}}, "default")
    await controller.reconcile(KEY)
    web2 = stored_pods(client)["web-2"]
    assert web2["metadata"]["labels"][REVISION_HASH_LABEL] == st["updateRevision"]
    assert web2["spec"]["containers"][0]["image"] == "k8py/toolbox:v2"
    await controller.reconcile(KEY)  # web-2 is not ready yet: web-1 stays
    assert not stored_pods(client)["web-1"]["metadata"].get("deletionTimestamp")

    await set_phase(client, "web-2", "Running", ready=True)
    await controller.reconcile(KEY)
    assert stored_pods(client)["web-1"]["metadata"].get("deletionTimestamp")


async def test_the_update_revision_becomes_current_once_every_pod_runs_it() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=1))
    await bring_up(controller, client, 1)
    await bump_template(client, "web", "k8py/toolbox:v2")
    await update_pod(controller, client, "web-0")

    await controller.reconcile(KEY)

    st = status(client)
    assert st["currentRevision"] == st["updateRevision"]
    assert st["currentReplicas"] == st["updatedReplicas"] == 1


async def test_partition_keeps_lower_ordinals_on_the_old_revision() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(strategy={"type": "RollingUpdate",
                                      "rollingUpdate": {"partition": 2}}))
    await bring_up(controller, client, 3)
    await bump_template(client, "web", "k8py/toolbox:v2")
    await update_pod(controller, client, "web-2")

    await controller.reconcile(KEY)

    st = status(client)
    assert st["updatedReplicas"] == 1 and st["currentReplicas"] == 2
    pods = stored_pods(client)
    assert not any(p["metadata"].get("deletionTimestamp") for p in pods.values())
    assert pods["web-2"]["metadata"]["labels"][REVISION_HASH_LABEL] == st["updateRevision"]
    assert pods["web-1"]["metadata"]["labels"][REVISION_HASH_LABEL] == st["currentRevision"]


async def test_on_delete_leaves_old_pods_alone() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=2, strategy={"type": "OnDelete"}))
    await bring_up(controller, client, 2)
    await bump_template(client, "web", "k8py/toolbox:v2")

    await controller.reconcile(KEY)

    assert not any(p["metadata"].get("deletionTimestamp") for p in stored_pods(client).values())
    st = status(client)
    assert "updatedReplicas" not in st and st["currentReplicas"] == 2
    assert st["updateRevision"] != st["currentRevision"]


async def test_a_deleted_pod_comes_back_with_the_same_name_and_claim() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=2))
    await bring_up(controller, client, 2)
    first_uid = stored_pods(client)["web-1"]["metadata"]["uid"]
    await client.delete("pods", "web-1", "default")

    await controller.reconcile(KEY)

    web1 = stored_pods(client)["web-1"]
    assert web1["metadata"]["uid"] != first_uid
    assert web1["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-1"
    assert sorted(stored_claims(client)) == ["www-web-0", "www-web-1"]


async def test_a_failed_pod_is_deleted_and_recreated() -> None:
    controller, client, ctx = setup()
    client.seed(statefulset(replicas=1))
    await bring_up(controller, client, 1)
    await set_phase(client, "web-0", "Failed")

    await controller.reconcile(KEY)

    reasons = [reason for reason, _ in events(ctx)]
    assert "RecreatingFailedPod" in reasons
    assert reasons.count("SuccessfulDelete") == 1


async def test_revision_history_is_trimmed_to_the_limit() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=1, revisionHistoryLimit=1,
                            strategy={"type": "OnDelete"}))
    await bring_up(controller, client, 1)
    for version in ("v2", "v3", "v4"):
        await bump_template(client, "web", f"k8py/toolbox:{version}")
        await controller.reconcile(KEY)

    names = sorted(stored(client, "controllerrevisions"))
    st = status(client)
    # Live: the pod's (= current) and the update revision; one more may stay.
    assert st["currentRevision"] in names and st["updateRevision"] in names
    assert len(names) == 3


async def test_going_back_to_an_old_template_reuses_its_revision() -> None:
    controller, client, _ = setup()
    client.seed(statefulset(replicas=1, strategy={"type": "OnDelete"}))
    await bring_up(controller, client, 1)
    first = status(client)["updateRevision"]
    await bump_template(client, "web", "k8py/toolbox:v2")
    await controller.reconcile(KEY)
    await bump_template(client, "web", "k8py/toolbox:dev")

    await controller.reconcile(KEY)

    revisions = stored(client, "controllerrevisions")
    assert status(client)["updateRevision"] == first
    assert len(revisions) == 2 and revisions[first]["revision"] == 3


async def test_pending_writes_hold_the_next_pass_back() -> None:
    controller, client, _ = setup()
    client.factory = None  # the informer never hears of the pod we create
    [sts] = client.seed(statefulset(policy="Parallel"))
    controller.sts_informer.indexer.add(sts)

    await controller.reconcile(KEY)
    creates = [a for a in client.writes() if a.verb == "create" and a.resource == "pods"]
    await controller.reconcile(KEY)

    assert len([a for a in client.writes()
                if a.verb == "create" and a.resource == "pods"]) == len(creates) == 3
