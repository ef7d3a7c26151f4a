"""TaintToleration: a node's taints repel pods that do not tolerate them.

``NoSchedule`` and ``NoExecute`` taints filter (the first untolerated one is
named in the reason, as upstream prints it); ``PreferNoSchedule`` taints
only lower the score: the fewer untolerated ones a node has, the better.
Node conditions reach the scheduler this way too, through the
``node.kubernetes.io/not-ready`` and ``.../unreachable`` taints.
"""

from __future__ import annotations

from typing import Any

from machinery.taints import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, untolerated
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status, default_normalize

__all__ = ["TaintToleration", "untolerated_reason"]


def untolerated_reason(taint: dict[str, Any]) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


class TaintToleration:
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        hard = [t for t in node.taints if t.get("effect") in (NO_SCHEDULE, NO_EXECUTE)]
        if not hard:
            return SUCCESS
        bad = untolerated((pod.get("spec") or {}).get("tolerations"), hard)
        if not bad:
            return SUCCESS
        return Status.unschedulable(untolerated_reason(dict(bad[0])), unresolvable=True)

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> int:
        soft = [t for t in node.taints if t.get("effect") == PREFER_NO_SCHEDULE]
        if not soft:
            return 0
        # Only tolerations that could cover a PreferNoSchedule taint count here.
        tolerations = [tol for tol in (pod.get("spec") or {}).get("tolerations") or ()
                       if (tol.get("effect") or PREFER_NO_SCHEDULE) == PREFER_NO_SCHEDULE]
        return len(untolerated(tolerations, soft))

    def normalize(self, state: CycleState, pod: dict[str, Any], scores: dict[str, int]) -> None:
        default_normalize(scores, reverse=True)
