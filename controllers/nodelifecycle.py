"""The node lifecycle controller: silent nodes go Unknown, get tainted, and lose their pods.

It follows ``pkg/controller/nodelifecycle`` and the taint-eviction manager:

* health: a node is heard from when its Lease in ``kube-node-lease`` is
  renewed or its Ready heartbeat moves.  Times are taken from this
  controller's own clock when it *observes* a change (never from the
  kubelet's timestamps), so clock skew between machines cannot fake
  health.  After ``--node-monitor-grace-period`` of silence, Ready and the
  pressure conditions become Unknown ("Kubelet stopped posting node
  status.").
* taints: Ready=False adds ``node.kubernetes.io/not-ready`` and Ready=Unknown
  ``node.kubernetes.io/unreachable``, each as NoExecute and NoSchedule;
  pressure conditions and ``spec.unschedulable`` add their NoSchedule taints.
  They go when the condition clears.
* pods: on an unreachable node their Ready condition is set False, so
  Services stop sending them traffic.  Under NoExecute taints a pod without
  a matching toleration is deleted at once, one with ``tolerationSeconds``
  once that long has passed since the taint was added.

Everything is keyed by node name and driven by informer events plus timed
requeues (when the grace period or a toleration would run out); nothing polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controllers.base import QueueController, ensure_index, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.events import NORMAL, WARNING
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import (
    deepcopy_json,
    format_time,
    get_condition,
    is_being_deleted,
    parse_time,
    pod_is_ready,
    pod_is_terminal,
)
from machinery.reconciler import Requeue
from machinery.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    min_toleration_seconds,
    same_taint,
    untolerated,
    used_tolerations,
)

__all__ = [
    "NodeLifecycleController",
    "NODE_LEASE_NAMESPACE",
    "NODE_NOT_READY",
    "NODE_READY",
    "STATUS_UNKNOWN_MESSAGE",
    "desired_taints",
]

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_NOT_READY = "NodeNotReady"
NODE_READY = "NodeReady"
TAINT_EVICTION = "TaintManagerEviction"
STATUS_UNKNOWN_REASON = "NodeStatusUnknown"
STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_UPDATED_REASON = "NodeStatusNeverUpdated"
NEVER_UPDATED_MESSAGE = "Kubelet never posted node status."
NODE_NAME_INDEX = "spec.nodeName"

_MONITORED = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
_NO_SCHEDULE_BY_CONDITION = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): TAINT_MEMORY_PRESSURE,
    ("DiskPressure", "True"): TAINT_DISK_PRESSURE,
    ("PIDPressure", "True"): TAINT_PID_PRESSURE,
    ("NetworkUnavailable", "True"): TAINT_NETWORK_UNAVAILABLE,
}
_MANAGED_NO_SCHEDULE = frozenset(_NO_SCHEDULE_BY_CONDITION.values()) | {TAINT_UNSCHEDULABLE}
_MANAGED_NO_EXECUTE = frozenset({TAINT_NOT_READY, TAINT_UNREACHABLE})


def _node_name_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def _ready_status(node: Obj) -> str | None:
    cond = get_condition((node.get("status") or {}).get("conditions"), "Ready")
    return None if cond is None else str(cond.get("status"))


def _taints(node: Obj) -> list[Obj]:
    return list((node.get("spec") or {}).get("taints") or [])


def desired_taints(node: Obj, now: str) -> list[Obj]:
    """The node's taints with the controller-managed ones made to match its conditions.

    A node that never reported Ready is left alone: its kubelet's own
    registration taints stand until the grace period decides its health.
    Taints already present keep their ``timeAdded``.
    """
    ready = _ready_status(node)
    current = _taints(node)
    if ready is None:
        return current
    spec = node.get("spec") or {}
    wanted: list[Obj] = []
    if ready in ("False", "Unknown"):
        key = TAINT_NOT_READY if ready == "False" else TAINT_UNREACHABLE
        wanted.append({"key": key, "effect": NO_EXECUTE, "timeAdded": now})
    for cond in (node.get("status") or {}).get("conditions") or ():
        pressure = _NO_SCHEDULE_BY_CONDITION.get((cond.get("type"), cond.get("status")))
        if pressure is not None:
            wanted.append({"key": pressure, "effect": NO_SCHEDULE})
    if spec.get("unschedulable"):
        wanted.append({"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE})

    def managed(taint: Obj) -> bool:
        return (taint.get("effect") == NO_EXECUTE and taint.get("key") in _MANAGED_NO_EXECUTE) \
            or (taint.get("effect") == NO_SCHEDULE and taint.get("key") in _MANAGED_NO_SCHEDULE)

    out = [t for t in current if not managed(t) or any(same_taint(t, w) for w in wanted)]
    out += [w for w in wanted if not any(same_taint(w, t) for t in current)]
    return out


@dataclass
class _Health:
    """What this controller last observed of a node, and when (its own clock)."""

    probe: float
    renew: str | None
    heartbeat: str | None
    ready: str | None = None


class NodeLifecycleController(QueueController):
    """Keyed by node name."""

    def __init__(self, ctx: ControllerContext, *, grace_period: float | None = None) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.wall = ctx.wall
        self.grace = float(grace_period if grace_period is not None
                           else ctx.option("node_monitor_grace_period", 40.0))
        self.recorder = ctx.recorder("node-controller")
        self.nodes = ctx.informers.informer("nodes")
        self.leases = ctx.informers.informer("leases", NODE_LEASE_NAMESPACE)
        self.pods = ctx.informers.informer("pods")
        super().__init__("nodelifecycle", [self.nodes, self.leases, self.pods], clock=ctx.clock)
        ensure_index(self.pods, NODE_NAME_INDEX, _node_name_index)
        self._health: dict[str, _Health] = {}
        self.nodes.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.leases.add_handler(self._lease_changed, lambda _old, new: self._lease_changed(new))
        self.pods.add_handler(self._pod_changed, lambda _old, new: self._pod_changed(new))

    def _lease_changed(self, lease: Obj) -> None:
        self.queue.add(lease["metadata"]["name"])

    def _pod_changed(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        """A pod landing on an unhealthy node must be judged against its taints."""
        node_name = (object_of(pod).get("spec") or {}).get("nodeName")
        node = self.nodes.get(node_name) if node_name else None
        if node is not None and (_ready_status(node) not in (None, "True")
                                 or any(t.get("effect") == NO_EXECUTE for t in _taints(node))):
            self.queue.add(meta_key(node))

    async def reconcile(self, key: str) -> Requeue | None:
        node = self.nodes.get(key)
        if node is None:
            self._health.pop(key, None)
            return None
        now = self.clock.now()
        health = self._observe(node, now)
        silent_for = now - health.probe
        if silent_for >= self.grace:
            node = await self._mark_unknown(node)
        self._record_transition(node, health)
        node = await self._update_taints(node)
        waits = [] if silent_for >= self.grace else [self.grace - silent_for]
        eviction = await self._process_pods(node)
        if eviction is not None:
            waits.append(eviction)
        return Requeue(after=min(waits)) if waits else None

    def _observe(self, node: Obj, now: float) -> _Health:
        name = node["metadata"]["name"]
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = str((lease.get("spec") or {}).get("renewTime") or "") if lease else None
        ready = get_condition((node.get("status") or {}).get("conditions"), "Ready")
        heartbeat = str(ready.get("lastHeartbeatTime") or "") if ready else None
        health = self._health.get(name)
        if health is None:
            health = self._health[name] = _Health(now, renew, heartbeat, _ready_status(node))
        elif (renew, heartbeat) != (health.renew, health.heartbeat):
            health.probe, health.renew, health.heartbeat = now, renew, heartbeat
        return health

    async def _mark_unknown(self, node: Obj) -> Obj:
        new = deepcopy_json(node)
        conditions = new.setdefault("status", {}).setdefault("conditions", [])
        stamp = format_time(self.wall())
        changed = False
        for type_ in _MONITORED:
            cond = get_condition(conditions, type_)
            if cond is None:
                conditions.append({
                    "type": type_, "status": "Unknown", "reason": NEVER_UPDATED_REASON,
                    "message": NEVER_UPDATED_MESSAGE,
                    "lastHeartbeatTime": node["metadata"].get("creationTimestamp") or stamp,
                    "lastTransitionTime": stamp})
                changed = True
            elif cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason=STATUS_UNKNOWN_REASON,
                            message=STATUS_UNKNOWN_MESSAGE, lastTransitionTime=stamp)
                changed = True
        if not changed:
            return node
        self.log.info("node %s: no heartbeat for %.0fs, marking its status Unknown",
                      node["metadata"]["name"], self.grace)
        return await self.client.update_status("nodes", new)

    def _record_transition(self, node: Obj, health: _Health) -> None:
        ready = _ready_status(node)
        name = node["metadata"]["name"]
        if health.ready == "True" and ready != "True":
            self.recorder.event(node, NORMAL, NODE_NOT_READY,
                                f"Node {name} status is now: {NODE_NOT_READY}")
        elif health.ready not in (None, "True") and ready == "True":
            self.recorder.event(node, NORMAL, NODE_READY, f"Node {name} status is now: {NODE_READY}")
        health.ready = ready

    async def _update_taints(self, node: Obj) -> Obj:
        taints = desired_taints(node, format_time(self.wall()))
        if taints == _taints(node):
            return node
        new = deepcopy_json(node)
        spec = new.setdefault("spec", {})
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        return await self.client.update("nodes", new)

    async def _process_pods(self, node: Obj) -> float | None:
        """Mark pods not ready / evict them; seconds until the next eviction falls due."""
        pods = self.pods.indexer.by_index(NODE_NAME_INDEX, node["metadata"]["name"])
        if _ready_status(node) == "Unknown":
            for pod in pods:
                await self._mark_pod_not_ready(pod)
        no_execute = [t for t in _taints(node) if t.get("effect") == NO_EXECUTE]
        if not no_execute:
            return None
        wall = self.wall()
        added = [parse_time(t["timeAdded"]) for t in no_execute if t.get("timeAdded")]
        since = max(added) if added else wall
        next_due: float | None = None
        for pod in pods:
            if is_being_deleted(pod):
                continue
            tolerations = (pod.get("spec") or {}).get("tolerations")
            if untolerated(tolerations, no_execute):
                await self._evict(pod)
                continue
            seconds = min_toleration_seconds(used_tolerations(tolerations, no_execute))
            if seconds is None:
                continue  # tolerated forever
            left = (since - wall).total_seconds() + seconds
            if left <= 0:
                await self._evict(pod)
            else:
                next_due = left if next_due is None else min(next_due, left)
        return next_due

    async def _mark_pod_not_ready(self, pod: Obj) -> None:
        if pod_is_terminal(pod) or not pod_is_ready(pod):
            return
        new = deepcopy_json(pod)
        cond = get_condition(new["status"]["conditions"], "Ready")
        assert cond is not None  # pod_is_ready found it
        cond.update(status="False", lastTransitionTime=format_time(self.wall()))
        try:
            await self.client.update_status("pods", new)
        except errors.NotFound:
            return
        self.recorder.event(pod, WARNING, NODE_NOT_READY, "Node is not ready")

    async def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self.log.info("evicting pod %s/%s from a NoExecute-tainted node",
                      meta.get("namespace"), meta["name"])
        try:
            await self.client.delete("pods", meta["name"], meta.get("namespace"),
                                     preconditions={"uid": meta.get("uid")})
        except (errors.NotFound, errors.Conflict):
            return
        self.recorder.event(pod, NORMAL, TAINT_EVICTION,
                            f"Marking for deletion Pod {meta.get('namespace')}/{meta['name']}")
