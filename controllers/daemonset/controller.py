"""The DaemonSet controller: one pod on every node that should run one.

It follows ``pkg/controller/daemon``: a sync snapshots the template as a
ControllerRevision (its hash labels new pods), claims the DaemonSet's pods,
groups them by node and -- once the informer has shown its earlier creates
and deletes (expectations) --

* creates a pod for each eligible node without one, pinned to that node by
  a required ``metadata.name`` node affinity and placed by the scheduler;
* deletes pods on nodes that stopped being eligible, extra pods on a node
  (keeping the oldest), finished pods, failed pods (with a per-node back-off,
  as a kubelet that keeps rejecting a pod must not be fought in a hot loop),
  and pods bound to nodes that no longer exist (force-deleted, as PodGC does,
  since no kubelet is left to finish them);
* rolls pods onto the new revision (``rolling``) under ``RollingUpdate``;

then writes status and trims the revision history.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.daemonset.rolling import pods_to_replace
from controllers.daemonset.status import daemonset_status, min_ready_requeue
from controllers.daemonset.sync import NodeSync
from controllers.daemonset.util import pods_by_node, should_run
from controllers.history import REVISION_HASH_LABEL, RevisionHistory
from controllers.manager import ControllerContext
from controllers.refmanager import ControllerRefManager, recheck_owner
from controllers.owners import owners_selecting
from controllers.workload import PodOwnerEvents, write_status
from machinery import errors
from machinery.events import WARNING
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import deepcopy_json, get_controller_of, is_being_deleted, split_key
from machinery.reconciler import Requeue
from machinery.selectors import label_selector_from_dict

__all__ = ["DaemonSetController", "SELECTING_ALL", "FAILED_DAEMON_POD"]

Obj = dict[str, Any]

SELECTING_ALL = "SelectingAll"
FAILED_DAEMON_POD = "FailedDaemonPod"


class DaemonSetController(QueueController):
    """Keeps exactly one pod of each DaemonSet on every node it should run on."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ds_informer = ctx.informers.informer("daemonsets")
        self.pod_informer = ctx.informers.informer("pods")
        self.node_informer = ctx.informers.informer("nodes")
        self.revision_informer = ctx.informers.informer("controllerrevisions")
        super().__init__("daemonset", [self.ds_informer, self.pod_informer, self.node_informer,
                                       self.revision_informer], clock=ctx.clock)
        self.client = ctx.client
        self.clock = ctx.clock
        self.wall = ctx.wall
        self.recorder = ctx.recorder("daemonset-controller")
        self.expectations = UIDTrackingExpectations(ctx.clock)
        self.history = RevisionHistory(self.client, self.revision_informer, "daemonsets")
        self.nodes = NodeSync(self.client, self.recorder, self.expectations, ctx.clock)
        events = PodOwnerEvents("DaemonSet", self.ds_informer, self.queue.add,
                                self.queue.add_after, created=self.expectations.creation_observed,
                                deleted=lambda key, pod: self.expectations.deletion_observed_of(
                                    key, meta_key(pod)))
        self.ds_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                     self._ds_deleted)
        self.pod_informer.add_handler(events.added, events.updated, events.deleted)
        self.node_informer.add_handler(self._node_added, self._node_updated,
                                       lambda obj: self._enqueue_all())
        self.revision_informer.add_handler(self._revision_changed,
                                           lambda old, new: self._revision_changed(new),
                                           self._revision_changed)

    # -- event handlers ------------------------------------------------------------

    def _ds_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj)
        self.expectations.delete(key)
        self.queue.add(key)

    def _enqueue_all(self) -> None:
        for ds in self.ds_informer.list():
            self.enqueue(ds)

    def _node_added(self, node: Obj) -> None:
        for ds in self.ds_informer.list():
            if should_run(ds, node)[0]:
                self.enqueue(ds)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        """Only placement-relevant changes matter (labels, taints, unschedulable)."""
        if (old["metadata"].get("labels") == cur["metadata"].get("labels")
                and old.get("spec") == cur.get("spec")):
            return
        for ds in self.ds_informer.list():
            if should_run(ds, old) != should_run(ds, cur):
                self.enqueue(ds)

    def _revision_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        revision = object_of(obj)
        namespace = revision["metadata"].get("namespace")
        ref = get_controller_of(revision)
        if ref is not None:
            if ref.get("kind") == "DaemonSet":
                self.queue.add(f"{namespace}/{ref.get('name')}")
            return
        for ds in owners_selecting(self.ds_informer, revision):
            self.enqueue(ds)

    # -- reconcile -----------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, _ = split_key(key)
        cached = self.ds_informer.get(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        ds = deepcopy_json(cached)
        try:
            selector = label_selector_from_dict(ds["spec"].get("selector"))
        except errors.Invalid as exc:
            self.log.error("daemonset %s has an invalid selector: %s", key, exc)
            return None
        if selector.empty:
            self.recorder.event(ds, WARNING, SELECTING_ALL, "This daemon set is selecting all "
                                "pods. A non-empty selector is required.")
            return None
        if is_being_deleted(ds):
            return None  # its history may be half gone: no status can be trusted now
        revisions = await self.history.claim(ds, selector)
        status = ds.get("status") or {}
        update, collisions = await self.history.current(
            ds, revisions, int(status.get("collisionCount") or 0))
        hash_ = str(update["metadata"].get("labels", {}).get(REVISION_HASH_LABEL, ""))
        nodes = self.node_informer.list()
        error: Exception | None = None
        observed = self.expectations.satisfied(key)
        if observed:
            try:
                await self._manage(key, ds, selector, nodes, hash_)
            except Exception as exc:  # status first, then the retry
                error = exc
        pods = await self._claim_pods(ds, selector)
        now = self.wall()
        new_status = daemonset_status(ds, nodes, pods_by_node(pods), hash_, now, observed)
        if collisions or "collisionCount" in status:
            new_status["collisionCount"] = collisions
        await write_status(self.client, "daemonsets", ds, new_status)
        live = {update["metadata"]["name"]}
        live |= {r["metadata"]["name"] for r in revisions
                 if r["metadata"].get("labels", {}).get(REVISION_HASH_LABEL) in
                 {p["metadata"].get("labels", {}).get(REVISION_HASH_LABEL) for p in pods}}
        await self.history.truncate(revisions, live, int(ds["spec"].get("revisionHistoryLimit", 10)))
        if error is not None:
            raise error
        waits = [w for w in (min_ready_requeue(ds, new_status), self.nodes.backoff_wait(ds))
                 if w is not None]
        return Requeue(after=min(waits)) if waits else None

    async def _claim_pods(self, ds: Obj, selector: Any) -> list[Obj]:
        candidates = self.pod_informer.list(ds["metadata"].get("namespace"))
        return await ControllerRefManager(
            self.client, ds, selector, "pods", recheck_owner(self.client, "daemonsets", ds)
        ).claim(candidates)

    async def _manage(self, key: str, ds: Obj, selector: Any, nodes: list[Obj],
                      hash_: str) -> None:
        """Create and delete pods so each eligible node has one; then roll, if free to."""
        pods = [p for p in await self._claim_pods(ds, selector)
                if not (is_being_deleted(p) and (p.get("status") or {}).get("phase")
                        in ("Succeeded", "Failed"))]
        by_node = pods_by_node(pods)
        node_names = {n["metadata"]["name"] for n in nodes}
        create: list[str] = []
        delete: list[Obj] = []
        for node in nodes:
            wanted, keep = self.nodes.plan(ds, node, by_node.get(node["metadata"]["name"], []))
            create += wanted
            delete += keep
        # Pods pinned to a node that is gone: unscheduled ones can never run,
        # bound ones have no kubelet left to finish them.
        gone = [p for name, on_node in by_node.items() if name not in node_names
                for p in on_node if not is_being_deleted(p)]
        await self.nodes.sync(key, ds, delete, gone, create, hash_)
        if not self.expectations.satisfied(key):
            return
        strategy = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate":
            desired = [n for n in nodes if should_run(ds, n)[0]]
            old = pods_to_replace(ds, desired, by_node, hash_, self.wall())
            await self.nodes.sync(key, ds, old, [], [], hash_)
