"""The scheduling loop: take one pending pod, find it a node, bind it.

Pods with an empty ``spec.nodeName``, our ``schedulerName`` and no
``schedulingGates`` left are tried one at a time (kube-scheduler's
``scheduleOne``):

1. filter every node with the profile's filter plugins;
2. score the feasible ones, weighted, and take the best (ties broken at
   random, so equal nodes share the load);
3. *assume* the pod on that node in the cache, so the next pod already
   sees it there, and POST ``pods/binding`` in the background;
4. a failed bind forgets the assumption and retries the pod after back-off.

When nothing fits, the pod gets a ``FailedScheduling`` Warning event and a
``PodScheduled=False`` condition (reason ``Unschedulable``) saying why,
counted per reason over all nodes, and sleeps in the queue until a node
appears or changes or a pod goes away.  A successful bind is announced with
a ``Scheduled`` event.

The cycle itself (steps 1-3) never awaits, so the cache cannot change under
the plugins; only API writes happen in tasks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.informer import DeletedFinalStateUnknown, SharedInformerFactory
from machinery.meta import (
    format_time,
    get_condition,
    is_being_deleted,
    namespaced_name,
    pod_is_terminal,
)
from machinery.workqueue import Clock, RealClock, ShutDown
from scheduler import metrics
from scheduler.cache import SchedulerCache
from scheduler.framework import (
    Code,
    CycleState,
    FitError,
    NodeInfo,
    NormalizeScore,
    Status,
    node_ready_status,
)
from scheduler.plugins import Profile, build_profile
from scheduler.queue import IN_FLIGHT, QueuedPod, SchedulingQueue

__all__ = ["Scheduler", "SchedulingError", "DEFAULT_SCHEDULER_NAME", "FAILED_SCHEDULING",
           "SCHEDULED", "REASON_UNSCHEDULABLE", "REASON_SCHEDULER_ERROR"]

DEFAULT_SCHEDULER_NAME = "default-scheduler"
FAILED_SCHEDULING = "FailedScheduling"
SCHEDULED = "Scheduled"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class SchedulingError(Exception):
    """A plugin failed (as opposed to judging a node unfit): retry after back-off."""


@dataclass(frozen=True)
class _Placement:
    node: str
    feasible: int


def _node_signature(node: Obj) -> tuple[Any, ...]:
    """What about a node can make a pod fit that did not (heartbeats are not in it)."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    return (meta.get("labels"), spec.get("taints"), spec.get("unschedulable"),
            status.get("allocatable"), node_ready_status(node))


class Scheduler:
    def __init__(self, client: ApiClient, informers: SharedInformerFactory,
                 recorder: EventRecorder, *, profile: Profile | None = None,
                 clock: Clock | None = None, rand: random.Random | None = None,
                 queue: SchedulingQueue | None = None) -> None:
        self.client = client
        self.recorder = recorder
        self.profile = profile or build_profile(DEFAULT_SCHEDULER_NAME)
        self.name = self.profile.scheduler_name
        self.clock: Clock = clock or RealClock()
        self.rand = rand or random.Random()
        self.cache = SchedulerCache()
        self.queue = queue or SchedulingQueue(self.clock)
        self.pods = informers.informer("pods")
        self.nodes = informers.informer("nodes")
        self.services = informers.informer("services")
        self._tasks: set[asyncio.Task[None]] = set()
        self.pods.add_handler(self._on_pod, lambda _old, new: self._on_pod(new), self._on_pod_delete)
        self.nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)

    def has_synced(self) -> bool:
        return all(i.has_synced() for i in (self.pods, self.nodes, self.services))

    # -- informer events ------------------------------------------------------------
    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.name

    def _on_pod(self, pod: Obj) -> None:
        key = namespaced_name(pod)
        if (pod.get("spec") or {}).get("nodeName"):
            self.queue.delete(key)
            if not pod_is_terminal(pod):
                self.cache.set_pod(pod)
            elif self.cache.remove_pod(key):
                self.queue.move_all_to_active()  # its resources are free again
            return
        if self.cache.is_assumed(key):
            return  # our bind is in flight; the informer has not caught up
        gated = bool((pod.get("spec") or {}).get("schedulingGates"))
        if self._responsible(pod) and not gated and not pod_is_terminal(pod) \
                and not is_being_deleted(pod):
            self.queue.add(pod)
        else:
            self.queue.delete(key)

    def _on_pod_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = namespaced_name(pod)
        self.queue.delete(key)
        if self.cache.remove_pod(key):
            self.queue.move_all_to_active()

    def _on_node_add(self, node: Obj) -> None:
        self.cache.set_node(node)
        self.queue.move_all_to_active()

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.set_node(new)
        if _node_signature(old) != _node_signature(new):
            self.queue.move_all_to_active()

    def _on_node_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        node = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self.cache.remove_node(node["metadata"]["name"])

    # -- the algorithm ------------------------------------------------------------------
    def _filter(self, state: CycleState, pod: Obj) -> tuple[list[NodeInfo], dict[str, Status]]:
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        for info in state.snapshot.nodes:
            for plugin in self.profile.filters:
                try:
                    status = plugin.filter(state, pod, info)
                except Exception as exc:
                    raise SchedulingError(f"running {plugin.name} on node {info.name!r}: {exc}") from exc
                if status.code is Code.ERROR:
                    raise SchedulingError(f"running {plugin.name} on node {info.name!r}: "
                                          f"{status.message}")
                if not status.is_success():
                    statuses[info.name] = status.with_plugin(plugin.name)
                    break
            else:
                feasible.append(info)
        return feasible, statuses

    def _score(self, state: CycleState, pod: Obj, feasible: list[NodeInfo]) -> dict[str, int]:
        totals = {info.name: 0 for info in feasible}
        for plugin, weight in self.profile.scores:
            try:
                scores = {info.name: plugin.score(state, pod, info) for info in feasible}
                if isinstance(plugin, NormalizeScore):
                    plugin.normalize(state, pod, scores)
            except Exception as exc:
                raise SchedulingError(f"running score plugin {plugin.name}: {exc}") from exc
            for name, value in scores.items():
                totals[name] += value * weight
        return totals

    def schedule(self, pod: Obj) -> _Placement | FitError:
        """Pick a node for ``pod`` from the cache, or explain why none fits; raises SchedulingError."""
        snapshot = self.cache.snapshot(self.services.list())
        if not snapshot.nodes:
            return FitError(pod, 0, {})
        state = CycleState(snapshot)
        feasible, statuses = self._filter(state, pod)
        if not feasible:
            return FitError(pod, len(snapshot.nodes), statuses)
        if len(feasible) == 1:
            return _Placement(feasible[0].name, 1)
        totals = self._score(state, pod, feasible)
        best = max(totals.values())
        return _Placement(self.rand.choice([n for n, s in totals.items() if s == best]),
                          len(feasible))

    # -- one attempt ------------------------------------------------------------------------
    def schedule_one(self, entry: QueuedPod, cycle: int) -> None:
        """Decide for one popped pod and start its binding; never awaits."""
        pod = entry.pod
        started = self.clock.now()
        if is_being_deleted(pod) or (pod.get("spec") or {}).get("nodeName"):
            self.queue.done(entry.key)
            return
        try:
            result = self.schedule(pod)
        except SchedulingError as exc:
            log.error("error scheduling pod %s: %s", entry.key, exc)
            self.queue.requeue_backoff(entry)
            self._failed(pod, REASON_SCHEDULER_ERROR, str(exc), metrics.ERROR, started)
            return
        if isinstance(result, FitError):
            message = result.message
            log.info("unable to schedule pod %s: %s", entry.key, message)
            self.queue.requeue_unschedulable(entry, result.unschedulable_plugins(), cycle)
            self._failed(pod, REASON_UNSCHEDULABLE, message, metrics.UNSCHEDULABLE, started)
            return
        self.cache.assume(pod, result.node)
        self.queue.done(entry.key)
        self._spawn(self._bind(entry, result.node, started))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, pod: Obj, reason: str, message: str, result: str, started: float) -> None:
        metrics.schedule_attempts.labels(result, self.name).inc()
        metrics.attempt_duration.labels(result, self.name).observe(self.clock.now() - started)
        self.recorder.event(pod, WARNING, FAILED_SCHEDULING, message)
        self._spawn(self._set_unschedulable(namespaced_name(pod), pod, reason, message))

    async def _bind(self, entry: QueuedPod, node: str, started: float) -> None:
        pod = entry.pod
        meta = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                                **({"uid": meta["uid"]} if meta.get("uid") else {})},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            await self.client.create("pods", binding, meta.get("namespace"),
                                     subresource="binding", name=meta["name"])
        except asyncio.CancelledError:
            self.cache.forget(entry.key)
            self.queue.requeue_backoff(entry)
            raise
        except errors.ApiError as exc:
            self.cache.forget(entry.key)
            if isinstance(exc, errors.NotFound):
                return  # deleted meanwhile: nothing left to schedule
            log.warning("binding pod %s to %s failed: %s", entry.key, node, exc)
            self.queue.requeue_backoff(entry)
            self._failed(pod, REASON_SCHEDULER_ERROR, f"Binding rejected: {exc}", metrics.ERROR,
                         started)
            return
        metrics.schedule_attempts.labels(metrics.SCHEDULED, self.name).inc()
        metrics.attempt_duration.labels(metrics.SCHEDULED, self.name).observe(
            self.clock.now() - started)
        metrics.pod_scheduling_attempts.observe(entry.attempts)
        log.info("bound pod %s to node %s", entry.key, node)
        self.recorder.event(pod, NORMAL, SCHEDULED,
                            f"Successfully assigned {entry.key} to {node}")

    async def _set_unschedulable(self, key: str, pod: Obj, reason: str, message: str) -> None:
        """PodScheduled=False with the reason, written only when it says something new."""
        latest = self.pods.get(key) or pod
        if (latest.get("spec") or {}).get("nodeName"):
            return
        current = get_condition((latest.get("status") or {}).get("conditions"), "PodScheduled")
        if current and (current.get("status"), current.get("reason"), current.get("message")) \
                == ("False", reason, message):
            return
        transition = current.get("lastTransitionTime") if current and \
            current.get("status") == "False" else None
        condition = {"type": "PodScheduled", "status": "False", "reason": reason,
                     "message": message, "lastProbeTime": None,
                     "lastTransitionTime": transition or format_time(datetime.now(timezone.utc))}
        meta = pod["metadata"]
        try:
            await self.client.patch("pods", meta["name"], {"status": {"conditions": [condition]}},
                                    meta.get("namespace"), patch_type="strategic",
                                    subresource="status")
        except errors.NotFound:
            return
        except errors.ApiError as exc:
            log.warning("updating the PodScheduled condition of %s failed: %s", key, exc)

    # -- running ----------------------------------------------------------------------------
    def _update_gauges(self) -> None:
        for where, count in self.queue.counts().items():
            if where != IN_FLIGHT:
                metrics.pending_pods.labels(where).set(count)

    async def run(self) -> None:
        """Schedule until cancelled or the queue closes: the leader's task."""
        log.info("scheduler %s: scheduling", self.name)
        flusher = asyncio.get_running_loop().create_task(self.queue.run())
        try:
            while True:
                self._update_gauges()
                try:
                    entry = await self.queue.pop()
                except ShutDown:
                    return
                self.schedule_one(entry, self.queue.scheduling_cycle)
                await asyncio.sleep(0)  # let informer events in between pods
        finally:
            flusher.cancel()
            pending = [flusher, *self._tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            log.info("scheduler %s: stopped scheduling", self.name)
