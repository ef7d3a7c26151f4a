"""Rolling updates of DaemonSets without surge (``pkg/controller/daemon/update.go``).

With ``maxSurge`` 0 a node's old pod must go before its new one can start,
so the update is a budget of unavailability: every node whose pod is
missing, doubled, or new but not yet available spends one unit of
``maxUnavailable``; old pods that are unavailable anyway are replaced for
free; and available old pods are replaced while budget is left.  The manage
loop then creates the new pods on the emptied nodes.  Pods being deleted do
not count, so an update makes progress while nodes are down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.daemonset.util import is_updated, max_unavailable
from machinery.meta import is_being_deleted, pod_is_available

__all__ = ["pods_to_replace"]

Obj = dict[str, Any]


def pods_to_replace(ds: Obj, desired_nodes: list[Obj], by_node: dict[str, list[Obj]],
                    hash_: str, now: datetime) -> list[Obj]:
    """The old pods to delete now, within ``maxUnavailable``."""
    min_ready = int(ds["spec"].get("minReadySeconds") or 0)
    budget = max_unavailable(ds, len(desired_nodes))
    names = sorted({n["metadata"]["name"] for n in desired_nodes} | set(by_node))
    unavailable = 0
    replace: list[Obj] = []
    candidates: list[Obj] = []
    for name in names:
        pods = [p for p in by_node.get(name, []) if not is_being_deleted(p)]
        new = [p for p in pods if is_updated(p, hash_)]
        old = [p for p in pods if not is_updated(p, hash_)]
        if len(new) > 1 or len(old) > 1 or bool(new) == bool(old):
            unavailable += 1  # missing or doubled: the manage loop sorts the node out
            continue
        if new:
            if not pod_is_available(new[0], min_ready, now):
                unavailable += 1
            continue
        if not pod_is_available(old[0], min_ready, now):
            replace.append(old[0])
            unavailable += 1
        elif unavailable < budget:
            candidates.append(old[0])
    room = min(max(budget - unavailable, 0), len(candidates))
    return replace + candidates[:room]
