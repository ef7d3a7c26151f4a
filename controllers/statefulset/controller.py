"""The StatefulSet controller: ordered, stable replicas with storage of their own.

It follows ``pkg/controller/statefulset``: a sync claims the set's pods
(matching its selector *and* named like its replicas) and its
ControllerRevisions, works out the current revision (what the pods were
made from, from ``status.currentRevision``) and the update revision (the
template now, snapshotted if new), runs one pass of the algorithm
(``control.StatefulSetPass``), writes status and trims the revision
history to ``revisionHistoryLimit`` (never a revision a pod still uses).

Upstream relies on fixed pod names alone to avoid double creates; here the
controller also keeps expectations of its own creates and deletes, so a pass
never acts on a cache that has not yet shown the previous pass's writes.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.history import RevisionHistory
from controllers.manager import ControllerContext
from controllers.refmanager import ControllerRefManager, recheck_owner
from controllers.statefulset.control import StatefulSetPass, complete_rolling_update
from controllers.statefulset.identity import is_member_of, pod_revision
from controllers.statefulset.podcontrol import StatefulPodControl
from controllers.owners import owners_selecting
from controllers.workload import PodOwnerEvents, write_status
from machinery import errors
from machinery.expectations import ControllerExpectations, UIDTrackingExpectations
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import deepcopy_json, get_controller_of, labels, split_key
from machinery.reconciler import Requeue
from machinery.selectors import label_selector_from_dict

__all__ = ["StatefulSetController", "statefulset_status"]

Obj = dict[str, Any]

_OMITTED_WHEN_ZERO = ("readyReplicas", "currentReplicas", "updatedReplicas")


def statefulset_status(sts: Obj, counted: Obj) -> Obj:
    """The status object to write: the pass's figures, zeros omitted as Kubernetes does."""
    status = {k: v for k, v in counted.items()
              if not (k in _OMITTED_WHEN_ZERO and not v)}
    conditions = (sts.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return status


class StatefulSetController(QueueController):
    """Creates, deletes and updates pods (and claims) so each StatefulSet has its replicas."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.sts_informer = ctx.informers.informer("statefulsets")
        self.pod_informer = ctx.informers.informer("pods")
        self.revision_informer = ctx.informers.informer("controllerrevisions")
        self.claim_informer = ctx.informers.informer("persistentvolumeclaims")
        super().__init__("statefulset", [self.sts_informer, self.pod_informer,
                                         self.revision_informer, self.claim_informer],
                         clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.recorder = ctx.recorder("statefulset-controller")
        self.creations = ControllerExpectations(ctx.clock)
        self.deletions = UIDTrackingExpectations(ctx.clock)
        self.pods = StatefulPodControl(self.client, self.recorder, self.claim_informer,
                                       self.creations, self.deletions)
        self.history = RevisionHistory(self.client, self.revision_informer, "statefulsets")
        events = PodOwnerEvents("StatefulSet", self.sts_informer, self.queue.add,
                                self.queue.add_after, created=self.creations.creation_observed,
                                deleted=lambda key, pod: self.deletions.deletion_observed_of(
                                    key, meta_key(pod)))
        self.sts_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                      self._sts_deleted)
        self.pod_informer.add_handler(events.added, events.updated, events.deleted)
        self.revision_informer.add_handler(self._owned_changed,
                                           lambda old, new: self._owned_changed(new),
                                           self._owned_changed)
        self.claim_informer.add_handler(self._owned_changed, None, self._owned_changed)

    # -- event handlers ------------------------------------------------------------

    def _sts_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj)
        self.creations.delete(key)
        self.deletions.delete(key)
        self.queue.add(key)

    def _owned_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A revision or claim changed: wake its controller, or sets that may adopt it."""
        child = object_of(obj)
        namespace = child["metadata"].get("namespace")
        ref = get_controller_of(child)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{namespace}/{ref.get('name')}")
            return
        for sts in owners_selecting(self.sts_informer, child):
            self.enqueue(sts)

    # -- reconcile -----------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, _ = split_key(key)
        cached = self.sts_informer.get(key)
        if cached is None:
            self.creations.delete(key)
            self.deletions.delete(key)
            return None
        sts = deepcopy_json(cached)
        try:
            selector = label_selector_from_dict(sts["spec"].get("selector"))
        except errors.Invalid as exc:
            self.log.error("statefulset %s has an invalid selector: %s", key, exc)
            return None  # only an edit of the object can fix this
        revisions = await self.history.claim(sts, selector)
        pods = await ControllerRefManager(
            self.client, sts, selector, "pods", recheck_owner(self.client, "statefulsets", sts)
        ).claim(self.pod_informer.list(namespace),
                lambda p: selector.matches(labels(p)) and is_member_of(sts, p))
        if not (self.creations.satisfied(key) and self.deletions.satisfied(key)):
            return None  # the events of our last writes will bring the key back
        status = sts.get("status") or {}
        update, collisions = await self.history.current(
            sts, revisions, int(status.get("collisionCount") or 0))
        revisions = [r for r in revisions if r["metadata"]["name"] != update["metadata"]["name"]]
        revisions.append(update)
        current = next((r for r in revisions
                        if r["metadata"]["name"] == status.get("currentRevision")), update)
        now = self.wall()
        counted, error = await StatefulSetPass(self.pods, self.recorder, sts, current, update,
                                               collisions, now).run(pods)
        complete_rolling_update(sts, counted)
        await write_status(self.client, "statefulsets", sts, statefulset_status(sts, counted))
        live = {current["metadata"]["name"], update["metadata"]["name"]}
        live |= {pod_revision(p) for p in pods}
        await self.history.truncate(revisions, live,
                                    int(sts["spec"].get("revisionHistoryLimit", 10)))
        if error is not None:
            raise error
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        if min_ready > 0 and counted["availableReplicas"] != int(sts["spec"].get("replicas", 1)):
            return Requeue(after=float(min_ready))
        return None
