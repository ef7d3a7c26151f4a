"""NodeUnschedulable: keep new pods off cordoned nodes (``spec.unschedulable``).

``kubectl cordon`` sets the flag; a pod that tolerates the
``node.kubernetes.io/unschedulable:NoSchedule`` taint (DaemonSet pods do)
may still land there, exactly as if the node carried that taint.
"""

from __future__ import annotations

from typing import Any

from machinery.taints import NO_SCHEDULE, TAINT_UNSCHEDULABLE, tolerates
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status

__all__ = ["NodeUnschedulable", "REASON"]

REASON = "node(s) were unschedulable"
_TAINT = {"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE}


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        if not ((node.node or {}).get("spec") or {}).get("unschedulable"):
            return SUCCESS
        tolerations = (pod.get("spec") or {}).get("tolerations") or ()
        if any(tolerates(tol, _TAINT) for tol in tolerations):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
