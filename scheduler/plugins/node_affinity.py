"""NodeAffinity: ``nodeSelector`` and node affinity, required as a filter, preferred as a score.

Whether a node may run the pod at all is ``machinery.nodeaffinity``'s
answer, the one the DaemonSet controller also uses, so the two never
disagree about a node (see there for the matching rules).  The preferred
terms only rank nodes, which is the scheduler's business: the score is the
sum of the weights of the preferred terms a node matches, scaled so the
best node gets MaxScore.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from machinery.nodeaffinity import placement_matches, term_matches
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status, default_normalize

__all__ = ["NodeAffinity", "REASON", "term_matches"]

REASON = "node(s) didn't match Pod's node affinity/selector"


def _node_affinity(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = "NodeAffinity"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        if placement_matches(pod.get("spec") or {}, node.labels, node.name):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> int:
        preferred = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution")
        total = 0
        for entry in preferred or ():
            weight = int(entry.get("weight") or 0)
            if weight and term_matches(entry.get("preference") or {}, node.labels, node.name):
                total += weight
        return total

    def normalize(self, state: CycleState, pod: dict[str, Any], scores: dict[str, int]) -> None:
        default_normalize(scores)
