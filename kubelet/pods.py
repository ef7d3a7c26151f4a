"""Pod workers: one task per pod uid, so a pod's steps never run concurrently.

A worker wakes when anything about its pod may have changed (the pod object,
a Docker event for one of its containers, a probe result, a back-off running
out, or the periodic resync), runs one ``PodSyncer`` pass, and writes the pod
status through ``pods/status`` if it changed.  A pod with a
``deletionTimestamp`` is stopped gracefully, cleaned up and then deleted for
good (grace 0, uid precondition); a pod whose object is gone, or containers
no pod owns, are torn down the same way without the API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from kubelet.status import KUBELET_CONDITIONS, compute_status, status_changed
from kubelet.context import SyncContext
from kubelet.lifecycle import kill_pod, remove_pod, stop_sandbox
from kubelet.sync import PodState, PodSyncer
from machinery import errors
from machinery.client import ApiClient
from machinery.informer import Informer
from machinery.events import WARNING
from machinery.meta import deepcopy_json, now_rfc3339, parse_time

__all__ = ["PodWorkers"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)
_MIN_ORPHAN_GRACE = 2

SYNCS = Counter("kubelet_pod_syncs_total", "Pod sync passes run by the kubelet")
SYNC_ERRORS = Counter("kubelet_pod_sync_errors_total", "Pod sync passes that failed")
SYNC_SECONDS = Histogram("kubelet_pod_worker_duration_seconds", "Duration of one pod sync pass")
WORKERS = Gauge("kubelet_pod_workers", "Pods the kubelet is currently working on")


@dataclass
class _Worker:
    uid: str
    key: str
    state: PodState
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_pod: Obj | None = None


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid"))


class PodWorkers:
    def __init__(self, ctx: SyncContext, client: ApiClient, informer: Informer) -> None:
        self.ctx = ctx
        self.client = client
        self.informer = informer
        self.syncer = PodSyncer(ctx)
        self._workers: dict[str, _Worker] = {}

    # -- entry points -------------------------------------------------------------------------

    def ensure(self, pod: Obj, *, wake: bool = True) -> None:
        """Make sure the pod has a worker, and wake it (unless only its status changed)."""
        uid = _uid(pod)
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._spawn(uid, _key(pod))
        worker.last_pod = pod
        if wake:
            worker.wake.set()

    def update(self, old: Obj, new: Obj) -> None:
        """An informer update: the kubelet's own status writes do not call for a sync."""
        self.ensure(new, wake=_desired_state(old) != _desired_state(new))

    def orphan(self, uid: str) -> None:
        """Tear down containers of a pod the API no longer has."""
        if uid not in self._workers:
            self._spawn(uid, "")

    def wake(self, uid: str) -> None:
        worker = self._workers.get(uid)
        if worker is not None:
            worker.wake.set()

    def container_event(self, uid: str, container_id: str, action: str) -> None:
        """A Docker event of one of the pod's containers: wake its worker, unless the
        worker caused it itself (its start of a container it has already inspected), as
        a second pass would only relist the pod to find what it already knows."""
        worker = self._workers.get(uid)
        if worker is not None and not worker.state.expected_event(container_id, action):
            worker.wake.set()

    def uids(self) -> set[str]:
        return set(self._workers)

    async def stop(self) -> None:
        """Stop working (pods and containers stay as they are)."""
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        WORKERS.set(0)

    def _spawn(self, uid: str, key: str) -> _Worker:
        worker = _Worker(uid, key, PodState(uid))
        worker.task = asyncio.get_running_loop().create_task(self._run(worker),
                                                             name=f"pod-{key or uid}")
        self._workers[uid] = worker
        WORKERS.set(len(self._workers))
        return worker

    # -- the loop -------------------------------------------------------------------------------

    def _current(self, worker: _Worker) -> Obj | None:
        if not worker.key:
            return None
        pod = self.informer.get(worker.key)
        return pod if pod is not None and _uid(pod) == worker.uid else None

    async def _run(self, worker: _Worker) -> None:
        failures = 0
        try:
            while True:
                worker.wake.clear()
                pod = self._current(worker)
                started = time.monotonic()
                try:
                    if pod is None:
                        await self._teardown(worker)
                        return
                    if (pod.get("metadata") or {}).get("deletionTimestamp"):
                        await self._terminate(worker, pod)
                        return
                    await self._sync(worker, pod)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    SYNC_ERRORS.inc()
                    log.warning("pod %s: sync failed (%d): %s", worker.key or worker.uid,
                                failures, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                    worker.state.retry_in(min(30.0, 0.5 * 2 ** failures))
                finally:
                    SYNCS.inc()
                    SYNC_SECONDS.observe(time.monotonic() - started)
                timeout = self.ctx.config.sync_frequency
                if worker.state.retry is not None:
                    timeout = min(timeout, worker.state.retry)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.wake.wait(), timeout)
        finally:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]
                WORKERS.set(len(self._workers))

    async def _sync(self, worker: _Worker, pod: Obj) -> None:
        syncer, state = self.syncer, worker.state
        # Our own terminal write may not be in the cache yet: never run a finished pod again.
        known = _with_last_status(pod, state.last_status)
        if (known.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self.ctx.probes.forget_pod(worker.uid)
            await stop_sandbox(self.ctx, worker.uid)
            return
        if await self._past_deadline(worker, pod, known):
            return
        await syncer.sync(pod, state)
        status = await self._status(pod, state, terminal=False)
        if status["phase"] in ("Succeeded", "Failed"):
            self.ctx.probes.forget_pod(worker.uid)
            await stop_sandbox(self.ctx, worker.uid)
        await self._write_status(pod, state, status)

    async def _past_deadline(self, worker: _Worker, pod: Obj, known: Obj) -> bool:
        """Enforce spec.activeDeadlineSeconds: past it, the pod fails with DeadlineExceeded."""
        deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        started = (known.get("status") or {}).get("startTime")
        if deadline is None:
            return False
        left = float(deadline) - (
            (datetime.now(timezone.utc) - parse_time(started)).total_seconds() if started else 0)
        if left > 0:
            worker.state.retry_in(left)
            return False
        message = "Pod was active on the node longer than the specified deadline"
        self.ctx.recorder.event(pod, WARNING, "DeadlineExceeded", message)
        grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        await kill_pod(self.ctx, pod, worker.uid, grace)
        status = await self._status(pod, worker.state, terminal=True)
        status.update(phase="Failed", reason="DeadlineExceeded", message=message)
        await self._write_status(pod, worker.state, status)
        return True

    async def _status(self, pod: Obj, state: PodState, *, terminal: bool) -> Obj:
        view = await self.syncer.view(_with_last_status(pod, state.last_status), state,
                                      terminal=terminal)
        spec = pod.get("spec") or {}
        sandbox = view.sandbox
        pod_ip = self.ctx.config.node_ip if spec.get("hostNetwork") else (
            sandbox.ip if sandbox is not None and sandbox.running else "")
        return compute_status(view, host_ip=self.ctx.config.node_ip, pod_ip=pod_ip,
                              now=now_rfc3339())

    async def _write_status(self, pod: Obj, state: PodState, status: Obj) -> None:
        if state.last_status is not None:
            if status == state.last_status:
                return
        elif not status_changed(pod.get("status") or {}, status):
            state.last_status = status
            return
        meta = pod.get("metadata") or {}
        try:
            await self.client.patch("pods", str(meta.get("name")), {"status": status},
                                    str(meta.get("namespace")), subresource="status",
                                    patch_type="merge")
        except errors.NotFound:
            return
        state.last_status = status

    async def _terminate(self, worker: _Worker, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        await kill_pod(self.ctx, pod, worker.uid, int(grace))
        status = await self._status(pod, worker.state, terminal=True)
        await self._write_status(pod, worker.state, status)
        await remove_pod(self.ctx, worker.uid)
        try:
            await self.client.delete("pods", str(meta.get("name")), str(meta.get("namespace")),
                                     grace_period_seconds=0, preconditions={"uid": worker.uid})
        except (errors.NotFound, errors.Conflict):
            pass
        log.info("pod %s deleted", worker.key)

    async def _teardown(self, worker: _Worker) -> None:
        pod = worker.last_pod
        grace = _MIN_ORPHAN_GRACE
        if pod is not None:
            grace = max(grace, int((pod.get("metadata") or {}).get(
                "deletionGracePeriodSeconds") or 0))
        await kill_pod(self.ctx, pod, worker.uid, grace)
        await remove_pod(self.ctx, worker.uid)
        log.info("pod %s torn down (no longer in the API)", worker.key or worker.uid)


def _desired_state(pod: Obj) -> tuple[Any, ...]:
    """What a pod sync acts on: everything but status and bookkeeping metadata."""
    meta = pod.get("metadata") or {}
    return (pod.get("spec"), meta.get("uid"), meta.get("labels"), meta.get("annotations"),
            meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds"))


def _with_last_status(pod: Obj, last: Obj | None) -> Obj:
    """The pod as we last wrote it: our own conditions may not be in the cache yet."""
    if last is None:
        return pod
    merged = deepcopy_json(pod)
    status = merged.setdefault("status", {})
    theirs = [c for c in status.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    ours = [c for c in last.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS]
    status["conditions"] = theirs + ours
    status.setdefault("startTime", last.get("startTime"))
    if last.get("phase") in ("Succeeded", "Failed"):
        status["phase"] = last["phase"]
    return merged
