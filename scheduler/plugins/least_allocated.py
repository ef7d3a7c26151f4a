"""NodeResourcesLeastAllocated: prefer the node with the most CPU and memory left after placing the pod.

Per resource the score is the free fraction ``(allocatable - requested) /
allocatable`` times MaxScore (0 when over-committed); CPU and memory weigh
the same.  Requests here are the "non-zero" ones: a container without a
request counts as 100m CPU and 200Mi, or request-less pods would all pile
onto whichever node looks emptiest.
"""

from __future__ import annotations

from typing import Any

from machinery.podrequests import CPU, MEMORY, ResourceAmounts, pod_non_zero_requests
from scheduler.framework import CycleState, MaxScore, NodeInfo

__all__ = ["LeastAllocated", "RESOURCES"]

RESOURCES = (CPU, MEMORY)


class LeastAllocated:
    name = "NodeResourcesLeastAllocated"

    def _pod(self, state: CycleState, pod: dict[str, Any]) -> ResourceAmounts:
        return state.once(self.name, lambda: pod_non_zero_requests(pod))

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> int:
        usage = node.usage_with(self._pod(state, pod), RESOURCES, non_zero=True)
        if not usage:
            return 0
        total = sum(0 if requested > allocatable else
                    (allocatable - requested) * MaxScore // allocatable
                    for requested, allocatable in usage)
        return total // len(usage)
