"""NodeReady: keep pods off nodes whose kubelet is not (or no longer) reporting Ready.

Kubernetes expresses this through taints the node lifecycle controller adds
(``node.kubernetes.io/not-ready`` when Ready is False, ``.../unreachable``
when it is Unknown), which TaintToleration then enforces.  k8py checks the
condition itself as well, so a cluster without that controller (or the
moment before it reacts) never places pods on a dead node.  The condition
is read as the taint it stands for, so a pod that tolerates that taint
(DaemonSet pods, for instance) is still allowed, as it would be upstream.
"""

from __future__ import annotations

from typing import Any

from machinery.taints import NO_SCHEDULE, TAINT_NOT_READY, TAINT_UNREACHABLE, tolerates
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status, node_ready_status

__all__ = ["NodeReady", "REASON"]

REASON = "node(s) were not ready"


class NodeReady:
    name = "NodeReady"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        ready = node_ready_status(node.node or {})
        if ready == "True":
            return SUCCESS
        key = TAINT_NOT_READY if ready == "False" else TAINT_UNREACHABLE
        taint = {"key": key, "effect": NO_SCHEDULE}
        tolerations = (pod.get("spec") or {}).get("tolerations") or ()
        if any(tolerates(tol, taint) for tol in tolerations):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
