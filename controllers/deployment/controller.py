"""The Deployment controller: roll pod templates out through ReplicaSets (``deployment_controller.go``).

One sync settles which ReplicaSets the deployment owns, then does exactly
one of: report status only (being deleted), resize (paused, or
``spec.replicas`` changed), roll back (the legacy annotation), or take a
rollout step with the deployment's strategy.  The steps live in the
sibling modules; this class wires informers to the queue and dispatches.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.deployment import util
from controllers.deployment.recreate import Recreate
from controllers.deployment.rollback import Rollback, rollback_target
from controllers.deployment.rolling import RollingUpdate
from controllers.manager import ControllerContext
from controllers.owners import owners_of_update, owners_selecting, resolve_controller_ref
from machinery import errors
from machinery.events import WARNING
from machinery.informer import DeletedFinalStateUnknown
from machinery.meta import deepcopy_json, get_controller_of, is_being_deleted
from machinery.reconciler import Requeue

__all__ = ["DeploymentController", "SELECTING_ALL"]

Obj = dict[str, Any]

SELECTING_ALL = "SelectingAll"


class DeploymentController(RollingUpdate, Recreate, Rollback, QueueController):
    """Creates, scales and retires ReplicaSets so pods match each Deployment's template."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.d_informer = ctx.informers.informer("deployments")
        self.rs_informer = ctx.informers.informer("replicasets")
        self.pod_informer = ctx.informers.informer("pods")
        QueueController.__init__(self, "deployment",
                                 [self.d_informer, self.rs_informer, self.pod_informer],
                                 clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.recorder = ctx.recorder("deployment-controller")
        self.d_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                    self.enqueue)
        self.rs_informer.add_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_handler(on_delete=self._pod_deleted)

    # -- handlers -------------------------------------------------------------------

    def _resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        return resolve_controller_ref(self.d_informer, "Deployment", namespace, ref)

    def _rs_added(self, rs: Obj) -> None:
        if is_being_deleted(rs):
            self._rs_deleted(rs)
            return
        ref = get_controller_of(rs)
        if ref is not None:
            d = self._resolve(rs["metadata"].get("namespace"), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in owners_selecting(self.d_informer, rs):
            self.enqueue(d)

    def _rs_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        for d in owners_of_update(self.d_informer, "Deployment", old, cur)[0]:
            self.enqueue(d)

    def _rs_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        rs = object_of(obj)
        d = self._resolve(rs["metadata"].get("namespace"), get_controller_of(rs))
        if d is not None:
            self.enqueue(d)

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Recreate waits for the last old pod to go; nothing else reports that."""
        pod = object_of(obj)
        namespace = pod["metadata"].get("namespace")
        rs = resolve_controller_ref(self.rs_informer, "ReplicaSet", namespace,
                                    get_controller_of(pod))
        if rs is None:
            return
        d = self._resolve(namespace, get_controller_of(rs))
        if d is not None and not util.is_rolling(d):
            self.enqueue(d)

    # -- reconcile --------------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.d_informer.get(key)
        if cached is None:
            return None  # deleted: the garbage collector removes its ReplicaSets
        d = deepcopy_json(cached)
        if d["spec"].get("selector") == {}:
            self.recorder.event(d, WARNING, SELECTING_ALL,
                                "This deployment is selecting all pods. "
                                "A non-empty selector is required.")
            status = d.setdefault("status", {})
            generation = int(d["metadata"].get("generation") or 1)
            if int(status.get("observedGeneration") or 0) < generation:
                status["observedGeneration"] = generation
                await self.update_deployment_status(d)
            return None
        try:
            rss = await self.replicasets_for(d)
        except errors.Invalid as exc:
            self.log.error("deployment %s has an invalid selector: %s", key, exc)
            return None  # only an edit of the object can fix this
        if is_being_deleted(d):
            await self.sync_status_only(d, rss)
            return None
        await self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            await self.sync(d, rss)
            return None
        if rollback_target(d) is not None:
            await self.rollback(d, rss)
            return None
        if await self.is_scaling_event(d, rss):
            await self.sync(d, rss)
            return None
        if util.is_rolling(d):
            return await self.rollout_rolling(d, rss)
        return await self.rollout_recreate(d, rss, self.pod_map(d, rss))
