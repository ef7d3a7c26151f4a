"""One pass of the StatefulSet algorithm (``stateful_set_control.go``'s ``updateStatefulSet``).

Given the set, its current and update revisions and its pods, a pass:

1. lays the pods out by ordinal: ``replicas`` for ordinals the set wants
   (planning a pod for every gap) and ``condemned`` for the rest;
2. brings every replica to life -- recreating failed or finished pods,
   creating missing ones with their claims -- and, under ``OrderedReady``
   (``monotonic``), stops at the first replica that is not yet Running and
   Ready, so pod N+1 starts only after pod N is up;
3. scales down, highest ordinal first, one at a time and only while every
   other pod is healthy under ``OrderedReady``, all at once under ``Parallel``;
4. rolls pods onto the update revision under ``RollingUpdate``: the highest
   ordinal at or above ``partition`` that is still old is deleted (its
   replacement is made from the new revision by step 2 of a later pass),
   and nothing moves while a pod in that range is unhealthy.

It returns the status to write, plus the first error met, because the
status is written even when a pass stops on a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from controllers.history import with_template
from controllers.statefulset.identity import (
    identity_matches,
    in_ordinal_range,
    is_created,
    is_healthy,
    is_running_and_available,
    is_running_and_ready,
    is_terminal,
    new_pod,
    ordinal_of,
    pod_revision,
    start_ordinal,
    storage_matches,
)
from controllers.statefulset.podcontrol import StatefulPodControl
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.meta import is_being_deleted
from machinery.slowstart import SLOW_START_INITIAL_BATCH_SIZE, slow_start_batch

__all__ = ["StatefulSetPass", "replica_status", "complete_rolling_update",
           "RECREATING_FAILED_POD", "RECREATING_TERMINATED_POD"]

Obj = dict[str, Any]

RECREATING_FAILED_POD = "RecreatingFailedPod"
RECREATING_TERMINATED_POD = "RecreatingTerminatedPod"

_COUNTS = ("replicas", "readyReplicas", "availableReplicas", "currentReplicas",
           "updatedReplicas")


def replica_status(status: Obj, pods: list[Obj | None], min_ready: int, now: datetime,
                   current: str, update: str) -> None:
    """Recount ``status``'s replica numbers over ``pods`` (planned pods do not count)."""
    for name in _COUNTS:
        status[name] = 0
    for pod in pods:
        if pod is None or not is_created(pod):
            continue
        status["replicas"] += 1
        if is_running_and_ready(pod):
            status["readyReplicas"] += 1
            if is_running_and_available(pod, min_ready, now):
                status["availableReplicas"] += 1
        if not is_being_deleted(pod):
            status["currentReplicas"] += pod_revision(pod) == current
            status["updatedReplicas"] += pod_revision(pod) == update


def complete_rolling_update(sts: Obj, status: Obj) -> None:
    """Once every pod runs the update revision, it becomes the current one."""
    if (_strategy(sts).get("type", "RollingUpdate") == "RollingUpdate"
            and status["updatedReplicas"] == status["replicas"]
            and status["readyReplicas"] == status["replicas"]):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


def _strategy(sts: Obj) -> Obj:
    return sts["spec"].get("updateStrategy") or {}


async def _run_for_all(count: int, fn: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
    """Run ``fn`` over indexes; True when the pass must stop here.

    Monotonic: in order, stopping at the first index that asks to.  Parallel:
    slow-start batches, stopping only on an error (which is raised).
    """
    if monotonic:
        for index in range(count):
            if await fn(index):
                return True
        return False
    indexes = iter(range(count))

    async def next_one() -> None:
        await fn(next(indexes))

    _, failures = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, next_one)
    if failures:
        raise failures[0]
    return False


class StatefulSetPass:
    """One reconcile's worth of work on one StatefulSet."""

    def __init__(self, pods: StatefulPodControl, recorder: EventRecorder, sts: Obj,
                 current: Obj, update: Obj, collision_count: int, now: datetime) -> None:
        self.pods = pods
        self.recorder = recorder
        self.sts = sts
        self.current = current
        self.update = update
        self.current_set = with_template(sts, current)
        self.update_set = with_template(sts, update)
        self.now = now
        self.min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        self.monotonic = bool(sts["spec"].get("podManagementPolicy") != "Parallel")
        self.status: Obj = {
            "observedGeneration": int(sts["metadata"].get("generation") or 1),
            "currentRevision": current["metadata"]["name"],
            "updateRevision": update["metadata"]["name"],
            "collisionCount": collision_count,
        }
        self.replicas: list[Obj] = []
        self.condemned: list[Obj] = []
        self.first_unhealthy: Obj | None = None

    def _recount(self) -> Obj:
        replica_status(self.status, [*self.replicas, *self.condemned], self.min_ready, self.now,
                       self.status["currentRevision"], self.status["updateRevision"])
        return self.status

    def _versioned_pod(self, ordinal: int) -> Obj:
        """A planned replica: old revision below the partition, new at and above it."""
        strategy = _strategy(self.sts)
        rolling = strategy.get("rollingUpdate")
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            if rolling is None:
                keep = ordinal < int((self.sts.get("status") or {}).get("currentReplicas") or 0)
            else:
                keep = ordinal < int(rolling.get("partition") or 0)
            if keep:
                return new_pod(self.current_set, ordinal, self.current["metadata"]["name"])
        return new_pod(self.update_set, ordinal, self.update["metadata"]["name"])

    def _layout(self, pods: list[Obj]) -> None:
        start = start_ordinal(self.sts)
        slots: list[Obj | None] = [None] * int(self.sts["spec"].get("replicas", 1))
        for pod in pods:
            if in_ordinal_range(pod, self.sts):
                slots[ordinal_of(pod) - start] = pod
            elif ordinal_of(pod) >= 0:
                self.condemned.append(pod)
        self.replicas = [pod if pod is not None else self._versioned_pod(start + i)
                         for i, pod in enumerate(slots)]
        self.condemned.sort(key=ordinal_of, reverse=True)
        for pod in [*self.replicas, *reversed(self.condemned)]:
            if not is_healthy(pod):
                self.first_unhealthy = pod
                break

    async def run(self, pods: list[Obj]) -> tuple[Obj, Exception | None]:
        self._layout(pods)
        if is_being_deleted(self.sts):
            return self._recount(), None
        try:
            if await _run_for_all(len(self.replicas), self._process_replica, self.monotonic):
                return self._recount(), None
            if await _run_for_all(len(self.condemned), self._fix_condemned_claims,
                                  self.monotonic):
                return self._recount(), None
            if await _run_for_all(len(self.condemned), self._process_condemned, self.monotonic):
                return self._recount(), None
            self._recount()
            if _strategy(self.sts).get("type") == "OnDelete":
                return self.status, None
            await self._roll()
        except Exception as exc:  # the status is still written, then the key retried
            return self._recount(), exc
        return self.status, None

    async def _process_replica(self, index: int) -> bool:
        pod = self.replicas[index]
        if is_created(pod) and is_terminal(pod):
            failed = (pod.get("status") or {}).get("phase") == "Failed"
            self.recorder.event(
                self.sts, WARNING if failed else NORMAL,
                RECREATING_FAILED_POD if failed else RECREATING_TERMINATED_POD,
                f"StatefulSet {self.sts['metadata'].get('namespace')}/"
                f"{self.sts['metadata']['name']} is recreating "
                f"{'failed' if failed else 'terminated'} Pod {pod['metadata']['name']}")
            await self.pods.delete(self.sts, pod)
            pod = self.replicas[index] = self._versioned_pod(ordinal_of(pod))
        if not is_created(pod):
            if self.pods.claim_is_stale(self.sts, pod):
                return True  # the garbage collector has the old claim to delete first
            await self.pods.create(self.sts, pod)
            if self.monotonic:
                return True
        if (pod.get("status") or {}).get("phase") == "Pending":
            await self.pods.create_missing_claims(self.sts, pod)
        if self.monotonic and (is_being_deleted(pod) or not is_running_and_ready(pod)
                               or not is_running_and_available(pod, self.min_ready, self.now)):
            return True
        if not is_created(pod):
            return False  # just created in this parallel pass: nothing to repair yet
        if (identity_matches(self.sts, pod) and storage_matches(self.sts, pod)
                and self.pods.claims_match_policy(self.update_set, pod)):
            return False
        await self.pods.update(self.update_set, pod)
        return False

    async def _fix_condemned_claims(self, index: int) -> bool:
        """Hand a scaled-away pod's claims to the pod (``whenScaled: Delete``) before it goes."""
        pod = self.condemned[index]
        if not self.pods.claims_match_policy(self.update_set, pod):
            await self.pods.fix_claim_owners(self.update_set, pod)
        return False

    async def _process_condemned(self, index: int) -> bool:
        pod = self.condemned[index]
        if is_being_deleted(pod):
            return self.monotonic  # wait for it to go before touching the next
        if self.monotonic and pod is not self.first_unhealthy and (
                not is_running_and_ready(pod)
                or not is_running_and_available(pod, self.min_ready, self.now)):
            return True
        await self.pods.delete(self.sts, pod)
        return True

    async def _roll(self) -> None:
        """Delete the highest-ordinal old pod at or above the partition, if all are healthy."""
        rolling = _strategy(self.sts).get("rollingUpdate") or {}
        partition = int(rolling.get("partition") or 0)
        update = self.status["updateRevision"]
        for target in range(len(self.replicas) - 1, partition - 1, -1):
            pod = self.replicas[target]
            if pod_revision(pod) != update and not is_being_deleted(pod):
                await self.pods.delete(self.sts, pod)
                self.status["currentReplicas"] -= 1
                return
            if not is_healthy(pod):
                return
