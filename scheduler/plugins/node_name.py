"""NodeName: a pod that names its node (``spec.nodeName``) fits only that node.

The scheduler never picks up such pods (they are already bound), but the
filter keeps the framework complete for callers that run the filters to
explain a placement, as the kubelet's admission check does upstream.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status

__all__ = ["NodeName", "REASON"]

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if not wanted or wanted == node.name:
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
