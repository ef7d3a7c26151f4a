"""The ReplicaSet controller: keep ``spec.replicas`` pods running for each ReplicaSet.

It follows ``pkg/controller/replicaset/replica_set.go``: a sync claims the
pods the selector matches (adopting orphans, releasing strays), and -- only
when the informer has caught up with this controller's own earlier creates
and deletes (``machinery.expectations``) -- creates the missing pods in
slow-start batches or deletes the surplus, least valuable first
(``controllers.podranking``).  It then writes ``status``; a pod that is
ready but not yet available under ``minReadySeconds`` brings the key back
when it will have become available.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from controllers.base import (
    CONTROLLER_UID_INDEX,
    QueueController,
    controller_uid_index,
    ensure_index,
    object_of,
)
from controllers.manager import ControllerContext
from controllers.owners import owners_of_update, owners_selecting, resolve_controller_ref
from controllers.podcontrol import (
    FAILED_CREATE,
    FAILED_DELETE,
    SUCCESSFUL_CREATE,
    SUCCESSFUL_DELETE,
    create_pods,
    delete_pod,
    pod_from_template,
)
from controllers.podranking import pods_to_delete
from controllers.refmanager import ControllerRefManager, recheck_owner
from controllers.workload import write_status
from machinery import errors
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import (
    deepcopy_json,
    format_time,
    get_condition,
    get_controller_of,
    is_being_deleted,
    labels,
    parse_time,
    pod_is_active,
    pod_is_available,
    pod_is_ready,
    split_key,
)
from machinery.reconciler import Requeue
from machinery.selectors import label_selector_from_dict, label_selector_from_set

__all__ = ["ReplicaSetController", "BURST_REPLICAS", "pod_from_template", "replicaset_status",
           "SUCCESSFUL_CREATE", "FAILED_CREATE", "SUCCESSFUL_DELETE", "FAILED_DELETE"]

Obj = dict[str, Any]

# At most this many pods are created or deleted per sync (Kubernetes' BurstReplicas).
BURST_REPLICAS = 500

REPLICA_FAILURE = "ReplicaFailure"


def replicaset_status(rs: Obj, pods: list[Obj], manage_error: Exception | None,
                      now: datetime) -> Obj:
    """The status a sync writes, with zero counts left out as Kubernetes omits them."""
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = label_selector_from_set(
        ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
    fully_labeled = sum(1 for p in pods if template_labels.matches(labels(p)))
    ready = sum(1 for p in pods if pod_is_ready(p))
    available = sum(1 for p in pods if pod_is_available(p, min_ready, now))
    status: Obj = {"replicas": len(pods)}
    for name, value in (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
                        ("availableReplicas", available)):
        if value:
            status[name] = value
    status["observedGeneration"] = int((rs.get("metadata") or {}).get("generation") or 1)
    old = rs.get("status") or {}
    conditions = [dict(c) for c in old.get("conditions") or () if c.get("type") != REPLICA_FAILURE]
    failure = get_condition(old.get("conditions"), REPLICA_FAILURE)
    if manage_error is not None:
        if failure is None:
            diff = len(pods) - int(spec.get("replicas", 1))
            reason = FAILED_CREATE if diff < 0 else FAILED_DELETE if diff > 0 else ""
            failure = {"type": REPLICA_FAILURE, "status": "True", "reason": reason,
                       "message": str(manage_error),
                       "lastTransitionTime": format_time(now)}
        conditions.append(dict(failure))
    if conditions:
        status["conditions"] = conditions
    return status


class ReplicaSetController(QueueController):
    """Creates and deletes pods so each ReplicaSet has ``spec.replicas`` of them."""

    def __init__(self, ctx: ControllerContext, *, burst_replicas: int = BURST_REPLICAS) -> None:
        self.rs_informer = ctx.informers.informer("replicasets")
        self.pod_informer = ctx.informers.informer("pods")
        super().__init__("replicaset", [self.rs_informer, self.pod_informer], clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.recorder = ctx.recorder("replicaset-controller")
        self.burst_replicas = burst_replicas
        self.expectations = UIDTrackingExpectations(ctx.clock)
        ensure_index(self.pod_informer, CONTROLLER_UID_INDEX, controller_uid_index)
        ensure_index(self.rs_informer, CONTROLLER_UID_INDEX, controller_uid_index)
        self.rs_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                     self._rs_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- event handlers: they only settle expectations and enqueue keys ----------

    def _rs_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj)
        self.expectations.delete(key)
        self.queue.add(key)

    def _resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        return resolve_controller_ref(self.rs_informer, "ReplicaSet", namespace, ref)

    def _pod_added(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._pod_deleted(pod)  # a restarted manager may see a pod already going
            return
        rs = self._resolve(pod["metadata"].get("namespace"), get_controller_of(pod))
        if rs is not None:
            self.expectations.creation_observed(meta_key(rs))
            self.enqueue(rs)
            return
        if get_controller_of(pod) is None:
            for candidate in owners_selecting(self.rs_informer, pod):
                self.enqueue(candidate)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return  # a periodic resync, not a change
        labels_changed = labels(old) != labels(cur)
        if is_being_deleted(cur):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        concerned, rs = owners_of_update(self.rs_informer, "ReplicaSet", old, cur)
        for owner in concerned:
            self.enqueue(owner)
        if rs is not None:
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if not pod_is_ready(old) and pod_is_ready(cur) and min_ready > 0:
                self.enqueue_after(rs, min_ready + 1)

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = object_of(obj)
        rs = self._resolve(pod["metadata"].get("namespace"), get_controller_of(pod))
        if rs is None:
            return
        rs_key = meta_key(rs)
        self.expectations.deletion_observed_of(rs_key, meta_key(pod))
        self.queue.add(rs_key)

    # -- reconcile --------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, _ = split_key(key)
        cached = self.rs_informer.get(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        rs = deepcopy_json(cached)
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = label_selector_from_dict((rs.get("spec") or {}).get("selector"))
        except errors.Invalid as exc:
            self.log.error("replicaset %s has an invalid selector: %s", key, exc)
            return None  # only an edit of the object can fix this
        candidates = [p for p in self.pod_informer.list(namespace) if pod_is_active(p)]
        pods = await ControllerRefManager(
            self.client, rs, selector, "pods",
            recheck_owner(self.client, "replicasets", rs)).claim(candidates)
        manage_error: Exception | None = None
        if needs_sync and not is_being_deleted(rs):
            try:
                await self._manage_replicas(key, pods, rs)
            except Exception as exc:  # reported in status first, then retried
                manage_error = exc
        now = self.wall()
        status = replicaset_status(rs, pods, manage_error, now)
        await write_status(self.client, "replicasets", rs, status)
        if manage_error is not None:
            raise manage_error
        return self._availability_requeue(rs, pods, status, now)

    def _availability_requeue(self, rs: Obj, pods: list[Obj], status: Obj,
                              now: datetime) -> Requeue | None:
        """When the next ready pod becomes available under minReadySeconds."""
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready <= 0 or status.get("availableReplicas", 0) == status["replicas"]:
            return None
        waits = []
        for pod in pods:
            if pod_is_ready(pod) and not pod_is_available(pod, min_ready, now):
                cond = get_condition((pod.get("status") or {}).get("conditions"), "Ready") or {}
                since = cond.get("lastTransitionTime")
                start = parse_time(since) if since else now
                waits.append((start + timedelta(seconds=min_ready) - now).total_seconds())
        if not waits:
            return None
        return Requeue(after=max(min(waits), 0.0) + 0.5)

    async def _manage_replicas(self, key: str, pods: list[Obj], rs: Obj) -> None:
        diff = len(pods) - int(rs["spec"].get("replicas", 1))
        if diff < 0:
            await self._create_pods(key, rs, min(-diff, self.burst_replicas))
        elif diff > 0:
            await self._delete_pods(key, rs, pods, min(diff, self.burst_replicas))

    async def _create_pods(self, key: str, rs: Obj, count: int) -> None:
        self.log.info("replicaset %s: too few replicas, creating %d", key, count)
        _, error = await create_pods(self.client, self.recorder, self.expectations, key, rs,
                                     count, lambda: pod_from_template(rs))
        if error is not None:
            raise error

    def _related_pods(self, rs: Obj, own: list[Obj]) -> list[Obj]:
        """Active pods of every ReplicaSet sharing this one's controller (ranking context).

        A ReplicaSet without a controller ranks against its own pods.
        """
        ref = get_controller_of(rs)
        if ref is None:
            return own
        seen: dict[str, Obj] = {}
        for sibling in self.rs_informer.indexer.by_index(CONTROLLER_UID_INDEX, str(ref["uid"])):
            if sibling["metadata"].get("namespace") != rs["metadata"].get("namespace"):
                continue
            for pod in self.pod_informer.indexer.by_index(CONTROLLER_UID_INDEX,
                                                          str(sibling["metadata"]["uid"])):
                seen.setdefault(str(pod["metadata"].get("uid")), pod)
        return list(seen.values())

    async def _delete_pods(self, key: str, rs: Obj, pods: list[Obj], count: int) -> None:
        victims = pods_to_delete(pods, self._related_pods(rs, pods), count, self.wall())
        self.expectations.expect_deletions_of(key, [meta_key(p) for p in victims])
        self.log.info("replicaset %s: too many replicas, deleting %d", key, count)

        results = await asyncio.gather(
            *(delete_pod(self.client, self.recorder, self.expectations, key, rs, p)
              for p in victims), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
