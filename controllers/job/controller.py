"""The Job controller: run pods until a Job has its completions, or give up on it.

Follows ``pkg/controller/job/job_controller.go`` (1.32).  Each sync claims the
Job's pods, counts the newly finished ones, decides whether the Job failed
(``backoffLimit``, ``activeDeadlineSeconds``) or succeeded, and otherwise
keeps ``min(parallelism, remaining completions)`` pods active -- pausing
after failures (``controllers.job.util.BackoffRecord``) and deleting every
pod while suspended.  Counting happens through the tracking finalizer
(``controllers.job.tracking``), so nothing is lost or counted twice across
pod deletions and controller restarts.

Pods that still carry the finalizer but whose Job is gone, finished, or a
different Job of the same name are released here too: they are indexed by
the Job key they point at, so deleting a Job lets its pods go.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.base import (
    CONTROLLER_UID_INDEX,
    QueueController,
    controller_uid_index,
    ensure_index,
    object_of,
)
from controllers.job.decide import Decision, decide
from controllers.job.manage import PodControl
from controllers.job.tracking import (
    FinalizerExpectations,
    StatusTracker,
    SyncState,
    remove_finalizer_patch,
)
from controllers.job.util import (
    DEFAULT_BACKOFF,
    JOB_NAME_LABELS,
    JOB_TRACKING_FINALIZER,
    BackoffRecord,
    has_tracking_finalizer,
    is_finished,
)
from controllers.manager import ControllerContext
from controllers.owners import owners_selecting, resolve_controller_ref
from controllers.refmanager import ControllerRefManager, recheck_owner
from machinery import errors
from machinery.events import WARNING
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import (
    deepcopy_json,
    get_controller_of,
    is_being_deleted,
    labels,
    split_key,
)
from machinery.reconciler import Requeue
from machinery.selectors import label_selector_from_dict

__all__ = ["JobController", "TRACKED_JOB_INDEX", "tracked_job_index", "JOB_CONTROLLER_NAME"]

Obj = dict[str, Any]

TRACKED_JOB_INDEX = "jobTrackingKey"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"


def _is_job_ref(ref: Obj) -> bool:
    return ref.get("kind") == "Job" and str(ref.get("apiVersion", "")).startswith("batch/")


def tracked_job_index(pod: Obj) -> list[str]:
    """The Job key a pod with the tracking finalizer belongs to: its controller, else its label."""
    if not has_tracking_finalizer(pod):
        return []
    namespace = pod["metadata"].get("namespace")
    ref = get_controller_of(pod)
    if ref is not None:
        return [f"{namespace}/{ref['name']}"] if _is_job_ref(ref) else []
    name = next((labels(pod)[k] for k in JOB_NAME_LABELS if labels(pod).get(k)), None)
    return [f"{namespace}/{name}"] if name else []


class JobController(QueueController):
    """Creates, counts and removes the pods of batch/v1 Jobs."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.job_informer = ctx.informers.informer("jobs")
        self.pod_informer = ctx.informers.informer("pods")
        super().__init__("job", [self.job_informer, self.pod_informer], clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.recorder = ctx.recorder("job-controller")
        configured = ctx.option("job_pod_failure_backoff", None)
        self.backoff_base = float(DEFAULT_BACKOFF if configured is None else configured)
        self.expectations = UIDTrackingExpectations(ctx.clock)
        self.finalizers = FinalizerExpectations()
        self.backoffs: dict[str, BackoffRecord] = {}
        self.pod_control = PodControl(self.client, self.recorder, self.expectations)
        self.tracker = StatusTracker(self.client, self.recorder, self.finalizers, self.wall)
        ensure_index(self.pod_informer, CONTROLLER_UID_INDEX, controller_uid_index)
        ensure_index(self.pod_informer, TRACKED_JOB_INDEX, tracked_job_index)
        self.job_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                      self._job_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- event handlers: settle expectations, enqueue keys ---------------------------------

    def _job_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj)
        self.expectations.delete(key)
        self.queue.add(key)  # its pods may still carry our finalizer

    def _resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        """The live Job a controller reference names; a batch/ API version is required too."""
        if ref is None or not _is_job_ref(ref):
            return None
        return resolve_controller_ref(self.job_informer, "Job", namespace, ref)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = get_controller_of(pod)
        if ref is None or not _is_job_ref(ref):
            return None
        return f"{pod['metadata'].get('namespace')}/{ref['name']}"

    def _enqueue_orphan(self, pod: Obj) -> None:
        """Jobs that may adopt an orphan, and the Job key whose finalizer it still carries."""
        for key in tracked_job_index(pod):
            self.queue.add(key)
        for job in owners_selecting(self.job_informer, pod):
            self.enqueue(job)

    def _pod_added(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._pod_deleted(pod, final=False)
            return
        key = self._owner_key(pod)
        if key is None:
            if get_controller_of(pod) is None:
                self._enqueue_orphan(pod)
            return
        if self._resolve(pod["metadata"].get("namespace"), get_controller_of(pod)) is not None:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        if is_being_deleted(cur):
            self._pod_deleted(cur, final=False)
            return
        uid = str(cur["metadata"].get("uid"))
        old_key, cur_key = self._owner_key(old), self._owner_key(cur)
        for key in {k for k in (old_key, cur_key) if k is not None}:
            if not has_tracking_finalizer(cur):
                self.finalizers.observed(key, uid)
            self.queue.add(key)
        if get_controller_of(cur) is None and (
                labels(old) != labels(cur) or get_controller_of(old) is not None
                or has_tracking_finalizer(cur)):
            self._enqueue_orphan(cur)

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown, final: bool = True) -> None:
        pod = object_of(obj)
        key = self._owner_key(pod)
        if key is None:
            if has_tracking_finalizer(pod):
                self._enqueue_orphan(pod)
            return
        self.expectations.deletion_observed_of(key, meta_key(pod))
        if final or not has_tracking_finalizer(pod):
            self.finalizers.observed(key, str(pod["metadata"].get("uid")))
        self.queue.add(key)

    # -- reconcile --------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.job_informer.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.finalizers.delete(key)
            self.backoffs.pop(key, None)
            await self._release_leftovers(key, None, [])
            return None
        job = deepcopy_json(cached)
        if (job.get("spec") or {}).get("managedBy", JOB_CONTROLLER_NAME) != JOB_CONTROLLER_NAME:
            return None  # another controller owns this Job's status
        if is_finished(job):
            self.backoffs.pop(key, None)
            await self._release_leftovers(key, job, [])
            return None
        if (job.get("spec") or {}).get("completionMode") not in (None, "NonIndexed", "Indexed"):
            self.recorder.event(job, WARNING, "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return None
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim(job)
        await self._release_leftovers(key, job, pods)
        job.setdefault("status", {})
        original = deepcopy_json(job["status"])
        now: datetime = self.wall()
        state = SyncState(key, job, pods, self.finalizers.expected(key), 0)
        previous = self.backoffs.get(key, BackoffRecord())
        decision = await decide(state, previous, now, satisfied=satisfied,
                                pods=self.pod_control, backoff_base=self.backoff_base,
                                recorder=self.recorder)

        def flushed() -> None:
            self.backoffs[key] = decision.backoff

        await self.tracker.track(state, job["status"] != original, flushed)
        if decision.error is not None:
            raise decision.error
        return _requeue(decision)

    async def _claim(self, job: Obj) -> list[Obj]:
        """The Job's pods after adoption and release; adopted pods get the finalizer."""
        try:
            selector = label_selector_from_dict((job.get("spec") or {}).get("selector"))
        except errors.Invalid as exc:
            self.log.error("job %s has an invalid selector: %s", meta_key(job), exc)
            return []
        candidates = self.pod_informer.list(job["metadata"].get("namespace"))
        claimed = await ControllerRefManager(
            self.client, job, selector, "pods",
            recheck_owner(self.client, "jobs", job)).claim(candidates)
        uid = job["metadata"]["uid"]
        pods: list[Obj] = []
        for pod in claimed:
            owned = (get_controller_of(pod) or {}).get("uid") == uid
            if not owned and not has_tracking_finalizer(pod):
                meta = pod["metadata"]
                await self.client.patch("pods", meta["name"],
                                        {"metadata": {"finalizers": [JOB_TRACKING_FINALIZER]}},
                                        meta.get("namespace"), patch_type="strategic")
                pod = deepcopy_json(pod)
                pod["metadata"]["finalizers"] = [*(meta.get("finalizers") or []),
                                                 JOB_TRACKING_FINALIZER]
            pods.append(pod)
        return pods

    async def _release_leftovers(self, key: str, job: Obj | None, claimed: list[Obj]) -> None:
        """Take the finalizer off pods no live, unfinished Job of this name will count."""
        _, name = split_key(key)
        mine = {str(p["metadata"].get("uid")) for p in claimed}
        live_uid = job["metadata"].get("uid") if job is not None and not is_finished(job) else None
        for pod in self.pod_informer.indexer.by_index(TRACKED_JOB_INDEX, key):
            meta = pod["metadata"]
            ref = get_controller_of(pod)
            if str(meta.get("uid")) in mine and live_uid is not None:
                continue
            if ref is not None and (ref.get("name") != name or
                                    (live_uid is not None and ref.get("uid") == live_uid)):
                continue
            try:
                await self.client.patch("pods", meta["name"], remove_finalizer_patch(),
                                        meta.get("namespace"), patch_type="strategic")
            except errors.NotFound:
                continue


def _requeue(decision: Decision) -> Requeue | None:
    return Requeue(after=decision.requeue_after) if decision.requeue_after is not None else None
