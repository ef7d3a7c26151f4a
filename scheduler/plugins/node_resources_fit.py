"""NodeResourcesFit: the pod's requests must fit in what the node has left.

"Left" is the node's allocatable minus the requests of every pod bound or
assumed there (limits and actual usage play no part, as upstream).  Every
resource the pod requests is checked (cpu, memory, ephemeral-storage and
extended resources such as ``example.com/gpu``, which a node that does not
advertise them has none of), plus the node's pod count.  Each shortfall is
its own reason, so FailedScheduling can say "1 Insufficient cpu, 1
Insufficient memory".
"""

from __future__ import annotations

from typing import Any

from machinery.podrequests import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, ResourceAmounts, pod_requests
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status

__all__ = ["NodeResourcesFit", "TOO_MANY_PODS", "insufficient"]

TOO_MANY_PODS = "Too many pods"
_FIRST = {CPU: 0, MEMORY: 1, EPHEMERAL_STORAGE: 2}


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def _requests(self, state: CycleState, pod: dict[str, Any]) -> ResourceAmounts:
        return state.once(self.name, lambda: {
            name: value for name, value in pod_requests(pod).items() if value > 0})

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        reasons: list[str] = []
        if len(node.pods) + 1 > node.allowed_pod_number():
            reasons.append(TOO_MANY_PODS)
        for resource, wanted in sorted(self._requests(state, pod).items(),
                                       key=lambda kv: (_FIRST.get(kv[0], 3), kv[0])):
            if resource == PODS:
                continue
            free = node.allocatable.get(resource, 0) - node.requested.get(resource, 0)
            if wanted > free:
                reasons.append(insufficient(resource))
        return Status.unschedulable(*reasons) if reasons else SUCCESS
