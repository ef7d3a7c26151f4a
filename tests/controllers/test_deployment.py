"""DeploymentController (with the real ReplicaSetController beside it) on the fake client.

Both controllers share the fake's informers, as in the controller manager;
``Cluster.settle`` plays the kubelet by marking new pods ready and runs both
queues until nothing is left to do.  A hook on every stored pod checks the
rolling-update bounds at each intermediate state, not just at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controllers.deployment import DeploymentController
from controllers.deployment import util
from controllers.replicaset import ReplicaSetController
from machinery import errors
from machinery.meta import format_time, pod_is_ready
from machinery.reconciler import Requeue
from tests.controllers.fakeclient import drain, fake_context
from tests.controllers.workloads import deployment, make_ready, pods_of, replicaset

Obj = dict[str, Any]


class Cluster:
    def __init__(self) -> None:
        self.ctx, self.client, self.clock = fake_context()
        self.rsc = ReplicaSetController(self.ctx)
        self.dc = DeploymentController(self.ctx)
        self.events = self.ctx.events.recorders["deployment-controller"].events  # type: ignore[attr-defined]
        self.check: Callable[[], None] | None = None
        store = self.client._store

        def checked_store(res: Any, obj: Obj) -> Obj:
            out = store(res, obj)
            if self.check is not None and res.plural == "pods":
                self.check()
            return out

        self.client._store = checked_store  # type: ignore[method-assign]

    def deployment(self) -> Obj:
        d = self.client.stored("deployments", "web", "default")
        assert d is not None
        return d

    def replicasets(self) -> list[Obj]:
        return util.by_creation(o for (q, _, _), o in self.client.objects.items()
                                if q == "replicasets.apps")

    async def edit(self, change: Callable[[Obj], None]) -> None:
        """A user's edit of the deployment spec (the API server bumps the generation).

        Time moves on a second first, so what the edit creates is newer.
        """
        await self.clock.advance(1)
        self.client.now = format_time(self.ctx.wall())
        d = await self.client.get("deployments", "web", "default")
        change(d)
        d["metadata"]["generation"] += 1
        await self.client.update("deployments", d)

    async def settle(self, ready: bool = True, rounds: int = 200) -> None:
        for _ in range(rounds):
            done = await drain(self.dc) + await drain(self.rsc)
            waiting = [p for p in pods_of(self.client) if not pod_is_ready(p)]
            if ready and waiting:
                await make_ready(self.client, waiting[:1], format_time(self.ctx.wall()))
            elif not done:
                return
        raise AssertionError("controllers did not settle")


def image_of(obj: Obj) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_first_sync_creates_the_new_replicaset() -> None:
    c = Cluster()
    [d] = c.client.seed(deployment(replicas=3))

    await c.dc.reconcile("default/web")

    [rs] = c.replicasets()
    pod_hash = rs["metadata"]["labels"][util.POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    ann = rs["metadata"]["annotations"]
    assert (ann[util.REVISION], ann[util.DESIRED_REPLICAS], ann[util.MAX_REPLICAS]) == \
        ("1", "3", "4")
    stored = c.deployment()
    assert stored["metadata"]["annotations"][util.REVISION] == "1"
    progressing = util.get_condition(stored["status"], "Progressing")
    assert progressing is not None and progressing["reason"] in (
        util.NEW_RS_CREATED, util.RS_UPDATED)
    assert ("Normal", "ScalingReplicaSet",
            f"Scaled up replica set web-{pod_hash} from 0 to 3", "web") in c.events


async def test_settled_deployment_reconciles_to_no_writes() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=3))
    await c.settle()
    status = c.deployment()["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert util.get_condition(status, "Progressing")["reason"] == util.NEW_RS_AVAILABLE  # type: ignore[index]
    assert util.get_condition(status, "Available")["status"] == "True"  # type: ignore[index]
    before = len(c.client.writes())

    assert await c.dc.reconcile("default/web") is None
    await c.rsc.reconcile(f"default/{c.replicasets()[0]['metadata']['name']}")

    assert len(c.client.writes()) == before


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [
    (5, 1, 0), (5, 0, 1), (4, "25%", "25%"), (10, 3, 2), (3, "100%", 0),
])
async def test_rolling_update_never_breaks_its_bounds(replicas: int, surge: int | str,
                                                      unavailable: int | str) -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=replicas, surge=surge, unavailable=unavailable))
    await c.settle()
    max_surge, max_unavailable = util.resolve_fenceposts(c.deployment())
    seen: list[tuple[int, int]] = []

    def check() -> None:
        live = [p for p in pods_of(c.client) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in live if pod_is_ready(p))
        seen.append((len(live), ready))
        assert len(live) <= replicas + max_surge, seen
        assert ready >= replicas - max_unavailable, seen

    c.check = check
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
        image="k8py/hello:2.0"))
    await c.settle()

    assert len(seen) > replicas  # the hook saw the whole rollout
    new, old = c.replicasets()[1], c.replicasets()[0]
    assert image_of(new) == "k8py/hello:2.0" and new["spec"]["replicas"] == replicas
    assert old["spec"]["replicas"] == 0
    assert all(p["spec"]["containers"][0]["image"] == "k8py/hello:2.0" for p in pods_of(c.client))
    status = c.deployment()["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == replicas
    assert c.deployment()["metadata"]["annotations"][util.REVISION] == "2"


async def test_scaling_follows_spec_replicas() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=3))
    await c.settle()

    for want in (6, 1):
        await c.edit(lambda d, n=want: d["spec"].update(replicas=n))  # type: ignore[misc]
        await c.settle()
        assert len(pods_of(c.client)) == want
        assert c.deployment()["status"]["availableReplicas"] == want
    name = c.replicasets()[0]["metadata"]["name"]
    messages = [e[2] for e in c.events]
    assert f"Scaled up replica set {name} from 3 to 6" in messages
    assert f"Scaled down replica set {name} from 6 to 1" in messages


async def test_scaling_mid_rollout_is_proportional() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=10, surge=3, unavailable=2))
    await c.settle()
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    for _ in range(2):  # no pod gets ready: the rollout stops at the surge bound
        await drain(c.dc)
        await drain(c.rsc)
    sizes_before = [rs["spec"]["replicas"] for rs in c.replicasets()]
    assert sum(sizes_before) == 13 and all(sizes_before)

    await c.edit(lambda d: d["spec"].update(replicas=20))
    await drain(c.dc)

    sizes = [rs["spec"]["replicas"] for rs in c.replicasets()]
    assert sum(sizes) == 20 + 3  # the new size plus maxSurge
    assert all(s > b for s, b in zip(sizes, sizes_before))


async def test_going_back_to_an_old_template_reuses_its_replicaset() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=2))
    await c.settle()
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    await c.settle()

    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
        image="k8py/hello:1.0"))
    await c.settle()

    first, second = c.replicasets()
    assert len(c.replicasets()) == 2
    assert first["spec"]["replicas"] == 2 and second["spec"]["replicas"] == 0
    ann = first["metadata"]["annotations"]
    assert ann[util.REVISION] == "3" and ann[util.REVISION_HISTORY] == "1"
    assert c.deployment()["metadata"]["annotations"][util.REVISION] == "3"


async def test_history_beyond_the_limit_is_deleted() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=1, revisionHistoryLimit=1))
    await c.settle()
    for image in ("v2", "v3", "v4"):
        await c.edit(lambda d, i=image: d["spec"]["template"]["spec"]["containers"][0].update(
            image=i))  # type: ignore[misc]
        await c.settle()

    assert [image_of(rs) for rs in c.replicasets()] == ["v3", "v4"]


async def test_stalled_rollout_exceeds_its_progress_deadline() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=2, progressDeadlineSeconds=10))
    await c.settle(ready=False)

    result = await c.dc.reconcile("default/web")
    assert isinstance(result, Requeue) and 10 <= result.after <= 12
    await c.clock.advance(result.after)
    await c.dc.reconcile("default/web")

    cond = util.get_condition(c.deployment()["status"], "Progressing")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", util.TIMED_OUT)
    assert cond["message"].endswith("has timed out progressing.")
    assert await c.dc.reconcile("default/web") is None  # timed out: no more deadline checks


async def test_paused_deployment_makes_no_rollout_progress() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=2))
    await c.settle()
    await c.edit(lambda d: d["spec"].update(paused=True))
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    await c.settle()

    assert len(c.replicasets()) == 1
    status = c.deployment()["status"]
    assert status["observedGeneration"] == c.deployment()["metadata"]["generation"]
    cond = util.get_condition(status, "Progressing")
    assert cond is not None and (cond["status"], cond["reason"]) == ("Unknown", util.PAUSED)

    await c.edit(lambda d: d["spec"].update(paused=False))
    await c.settle()
    assert image_of(c.replicasets()[-1]) == "v2"
    assert util.get_condition(c.deployment()["status"], "Progressing")["reason"] == \
        util.NEW_RS_AVAILABLE  # type: ignore[index]


async def test_restart_annotation_rolls_out_a_new_replicaset() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=2))
    await c.settle()
    old_pods = {p["metadata"]["name"] for p in pods_of(c.client)}

    await c.edit(lambda d: d["spec"]["template"]["metadata"].setdefault("annotations", {})
                 .update({"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}))
    await c.settle()

    assert len(c.replicasets()) == 2
    assert not old_pods & {p["metadata"]["name"] for p in pods_of(c.client)}


async def test_recreate_removes_old_pods_before_creating_new_ones() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=3, strategy="Recreate"))
    await c.settle()

    def check() -> None:
        images = {p["spec"]["containers"][0]["image"] for p in pods_of(c.client)}
        assert len(images) <= 1, images

    c.check = check
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    await c.settle()

    assert [p["spec"]["containers"][0]["image"] for p in pods_of(c.client)] == ["v2"] * 3


async def test_legacy_rollback_annotation() -> None:
    c = Cluster()
    c.client.seed(deployment(replicas=1))
    await c.settle()
    await c.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    await c.settle()

    d = await c.client.get("deployments", "web", "default")
    d["metadata"]["annotations"][util.ROLLBACK_TO] = "0"
    await c.client.update("deployments", d)
    await c.settle()

    assert image_of(c.deployment()) == "k8py/hello:1.0"
    assert util.ROLLBACK_TO not in c.deployment()["metadata"]["annotations"]
    assert ("Normal", "DeploymentRollback", 'Rolled back deployment "web" to revision 1',
            "web") in c.events


async def test_name_collision_bumps_the_collision_count() -> None:
    c = Cluster()
    [d] = c.client.seed(deployment(replicas=1))
    pod_hash = util.compute_hash(d["spec"]["template"], None)
    squatter = replicaset(f"web-{pod_hash}", replicas=0, app="other")
    c.client.seed(squatter)

    with pytest.raises(errors.AlreadyExists):
        await c.dc.reconcile("default/web")
    assert c.deployment()["status"]["collisionCount"] == 1
    await c.settle()

    mine = [rs for rs in c.replicasets() if rs["metadata"].get("ownerReferences")]
    assert len(mine) == 1 and mine[0]["metadata"]["name"] != f"web-{pod_hash}"


async def test_selecting_everything_is_refused() -> None:
    c = Cluster()
    d = deployment()
    d["spec"]["selector"] = {}
    c.client.seed(d)

    await c.dc.reconcile("default/web")

    assert c.replicasets() == []
    assert c.events[0][1] == "SelectingAll"
    assert c.deployment()["status"]["observedGeneration"] == 1
