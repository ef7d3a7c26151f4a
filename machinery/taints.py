"""Taints and tolerations, matched as ``k8s.io/api/core/v1`` (toleration.go, taint.go) does.

The scheduler filters nodes with these rules and the node lifecycle
controller evicts pods with them; both must agree on exactly which
toleration covers which taint, or a pod could be scheduled onto a node only
to be evicted from it at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "NO_SCHEDULE",
    "PREFER_NO_SCHEDULE",
    "NO_EXECUTE",
    "TAINT_NOT_READY",
    "TAINT_UNREACHABLE",
    "TAINT_UNSCHEDULABLE",
    "TAINT_MEMORY_PRESSURE",
    "TAINT_DISK_PRESSURE",
    "TAINT_PID_PRESSURE",
    "TAINT_NETWORK_UNAVAILABLE",
    "tolerates",
    "untolerated",
    "used_tolerations",
    "min_toleration_seconds",
    "same_taint",
]

Taint = Mapping[str, Any]
Toleration = Mapping[str, Any]

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """``Toleration.ToleratesTaint``: effect, then key, then operator.

    An empty effect tolerates every effect; ``Exists`` with an empty key
    tolerates every taint; an empty operator means ``Equal``.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(tolerations: Iterable[Toleration] | None, taints: Iterable[Taint]) -> list[Taint]:
    """The taints no toleration covers."""
    tols = list(tolerations or ())
    return [t for t in taints if not any(tolerates(tol, t) for tol in tols)]


def used_tolerations(tolerations: Iterable[Toleration] | None,
                     taints: Iterable[Taint]) -> list[Toleration]:
    """Every toleration that covers at least one of ``taints`` (``GetMatchingTolerations``)."""
    taint_list = list(taints)
    return [tol for tol in tolerations or () if any(tolerates(tol, t) for t in taint_list)]


def min_toleration_seconds(tolerations: Iterable[Toleration]) -> float | None:
    """How long the tolerations allow a pod to stay; ``None`` is forever, <= 0 is not at all."""
    seconds = [tol["tolerationSeconds"] for tol in tolerations
               if tol.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return float(max(0, min(int(s) for s in seconds)))


def same_taint(a: Taint, b: Taint) -> bool:
    """Taints are identified by key and effect (``Taint.MatchTaint``)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")
