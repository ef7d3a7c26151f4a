"""DaemonSet status, counted per node as ``updateDaemonSetStatus`` counts it.

For every node that should run the daemon: is a pod there (scheduled), and
is the oldest one ready, available and of the current revision; for every
node that should not: is a pod there anyway (misscheduled).
``observedGeneration`` moves only when the sync could act on this
generation (its expectations were met).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.daemonset.util import by_age, is_updated, should_run
from machinery.meta import pod_is_available, pod_is_ready

__all__ = ["daemonset_status", "min_ready_requeue"]

Obj = dict[str, Any]

_OMITTED_WHEN_ZERO = ("updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def daemonset_status(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
                     now: datetime, observed: bool) -> Obj:
    min_ready = int(ds["spec"].get("minReadySeconds") or 0)
    counts = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled",
                            "numberMisscheduled", "numberReady", "updatedNumberScheduled",
                            "numberAvailable"), 0)
    for node in nodes:
        pods = by_node.get(node["metadata"]["name"]) or []
        if not should_run(ds, node)[0]:
            counts["numberMisscheduled"] += bool(pods)
            continue
        counts["desiredNumberScheduled"] += 1
        if not pods:
            continue
        counts["currentNumberScheduled"] += 1
        pod = by_age(pods)[0]
        if pod_is_ready(pod):
            counts["numberReady"] += 1
            counts["numberAvailable"] += pod_is_available(pod, min_ready, now)
        counts["updatedNumberScheduled"] += is_updated(pod, hash_)
    counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
    old = ds.get("status") or {}
    status: Obj = {k: v for k, v in counts.items() if v or k not in _OMITTED_WHEN_ZERO}
    generation = int(ds["metadata"].get("generation") or 1) if observed else old.get(
        "observedGeneration")
    if generation:
        status["observedGeneration"] = generation
    if old.get("conditions"):
        status["conditions"] = old["conditions"]
    return status


def min_ready_requeue(ds: Obj, status: Obj) -> float | None:
    """Look again after minReadySeconds while ready pods are not yet available."""
    min_ready = int(ds["spec"].get("minReadySeconds") or 0)
    if min_ready > 0 and status.get("numberReady", 0) != status.get("numberAvailable", 0):
        return float(min_ready)
    return None
