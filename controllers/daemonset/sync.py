"""What each node needs from a DaemonSet, and the pod writes that provide it.

``NodeSync.plan`` is upstream's ``podsShouldBeOnNode``: a node that should
run the daemon and has no pod needs one; a node that may keep its pods loses
finished and failed ones (failed ones at most once per back-off period, as a
kubelet rejecting the pod must not be fought in a hot loop) and all but the
oldest running one; a node that may not keep them loses them all.

``NodeSync.sync`` is ``syncNodes``: expectations first, then creates in
slow-start batches and deletes in parallel, each with its event
(``controllers.podcontrol``); writes that never happen are un-expected so
the next pass is not held back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from controllers.daemonset.util import by_age, pod_for_node, pod_template, should_run
from controllers.podcontrol import create_pods, delete_pod
from machinery.client import ApiClient
from machinery.events import WARNING, EventRecorder
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import meta_key
from machinery.meta import is_being_deleted
from machinery.workqueue import Clock

__all__ = ["NodeSync", "BURST_REPLICAS", "BACKOFF_INITIAL", "BACKOFF_MAX"]

Obj = dict[str, Any]

BURST_REPLICAS = 250
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 15 * 60.0


@dataclass
class _Backoff:
    delay: float
    since: float


class NodeSync:
    def __init__(self, client: ApiClient, recorder: EventRecorder,
                 expectations: UIDTrackingExpectations, clock: Clock) -> None:
        self.client = client
        self.recorder = recorder
        self.expectations = expectations
        self.clock = clock
        self._backoff: dict[tuple[str, str], _Backoff] = {}

    # -- failed-pod back-off ------------------------------------------------------------

    def _in_backoff(self, key: tuple[str, str]) -> bool:
        entry = self._backoff.get(key)
        return entry is not None and self.clock.now() - entry.since < entry.delay

    def _next_backoff(self, key: tuple[str, str]) -> None:
        now = self.clock.now()
        entry = self._backoff.get(key)
        if entry is None or now - entry.since > 2 * BACKOFF_MAX:
            self._backoff[key] = _Backoff(BACKOFF_INITIAL, now)
        else:
            self._backoff[key] = _Backoff(min(entry.delay * 2, BACKOFF_MAX), now)

    def backoff_wait(self, ds: Obj) -> float | None:
        """Seconds until the DaemonSet's earliest failed-pod back-off runs out."""
        uid = str(ds["metadata"].get("uid"))
        now = self.clock.now()
        waits = [e.since + e.delay - now for (owner, _), e in self._backoff.items()
                 if owner == uid and e.since + e.delay > now]
        return min(waits) if waits else None

    # -- planning ------------------------------------------------------------------------

    def plan(self, ds: Obj, node: Obj, daemon_pods: list[Obj]) -> tuple[list[str], list[Obj]]:
        """``(nodes needing a pod, pods to delete)`` for one node."""
        wanted, may_keep = should_run(ds, node)
        name = node["metadata"]["name"]
        if wanted and not daemon_pods:
            return [name], []
        if not may_keep:
            return [], [p for p in daemon_pods if not is_being_deleted(p)]
        delete: list[Obj] = []
        running: list[Obj] = []
        for pod in daemon_pods:
            if is_being_deleted(pod):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Failed":
                key = (str(ds["metadata"].get("uid")), name)
                if self._in_backoff(key):
                    continue
                self._next_backoff(key)
                self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                    f"Found failed daemon pod {pod['metadata'].get('namespace')}/"
                                    f"{pod['metadata']['name']} on node {name}, will try to kill it")
                delete.append(pod)
            elif phase == "Succeeded":
                delete.append(pod)
            else:
                running.append(pod)
        return [], delete + by_age(running)[1:]

    # -- writes --------------------------------------------------------------------------

    async def sync(self, key: str, ds: Obj, delete: list[Obj], force_delete: list[Obj],
                   create_on: list[str], hash_: str) -> None:
        """Create pods on ``create_on`` and delete the given pods (``force_delete`` at once)."""
        create_on = create_on[:BURST_REPLICAS]
        doomed = [(p, False) for p in delete] + [(p, True) for p in force_delete]
        doomed = doomed[:BURST_REPLICAS]
        if not create_on and not doomed:
            return
        self.expectations.expect_deletions_of(key, [meta_key(p) for p, _ in doomed])
        self.expectations.raise_(key, add=len(create_on))
        failures = await self._create(key, ds, create_on, hash_)
        results = await asyncio.gather(*(self._delete(key, ds, p, force) for p, force in doomed),
                                       return_exceptions=True)
        failures += [r for r in results if isinstance(r, Exception)]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        if failures:
            raise failures[0]

    async def _create(self, key: str, ds: Obj, nodes: list[str], hash_: str) -> list[Exception]:
        """Create one pod per node; ``sync`` already counted them in the expectations."""
        template = pod_template(ds, hash_)
        targets = iter(nodes)
        _, error = await create_pods(self.client, self.recorder, self.expectations, key, ds,
                                     len(nodes), lambda: pod_for_node(ds, template, next(targets)),
                                     already_expected=True, skip_terminating_namespace=True)
        return [error] if error is not None else []

    async def _delete(self, key: str, ds: Obj, pod: Obj, force: bool) -> None:
        """Delete this very pod (uid precondition); ``force`` skips the grace period."""
        await delete_pod(self.client, self.recorder, self.expectations, key, ds, pod,
                         grace_period_seconds=0 if force else None,
                         preconditions={"uid": pod["metadata"].get("uid")})
