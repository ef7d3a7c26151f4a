"""NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory fill up evenly.

A node with 90% of its CPU and 10% of its memory requested strands the
memory: nothing CPU-hungry fits there any more.  The score is ``(1 - std) *
MaxScore`` over the requested fractions (each capped at 1) after placing the
pod; for the two resources the deviation is half their difference.  Unlike
LeastAllocated this counts real requests only.
"""

from __future__ import annotations

import math
from typing import Any

from machinery.podrequests import CPU, MEMORY, ResourceAmounts, pod_requests
from scheduler.framework import CycleState, MaxScore, NodeInfo

__all__ = ["BalancedAllocation", "RESOURCES"]

RESOURCES = (CPU, MEMORY)


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def _pod(self, state: CycleState, pod: dict[str, Any]) -> ResourceAmounts:
        return state.once(self.name, lambda: pod_requests(pod))

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> int:
        usage = node.usage_with(self._pod(state, pod), RESOURCES, non_zero=False)
        fractions = [min(1.0, requested / allocatable) for requested, allocatable in usage]
        if len(fractions) < 2:
            return MaxScore
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1 - std) * MaxScore)
