"""Which pods a ReplicaSet deletes first when it scales down.

Kubernetes orders candidates (``ActivePodsWithRanks`` in
``pkg/controller/controller_utils.go``) so that a scale-down hurts as little
as possible: pods that do no work yet go first, then pods doubled up on a
node, then the ones that became ready most recently (they carry the least
warm state), crash-loopers, and the newest.  Time comparisons are
logarithmic (``LogarithmicScaleDown``, on by default): pods ready for 10 and
11 minutes count as equally old, and ties fall to the uid so the choice is
pseudo-random rather than always hitting the same node.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from machinery.meta import get_condition, parse_time, pod_is_active, pod_is_ready

__all__ = ["DELETION_COST_ANNOTATION", "rank_by_colocation", "sort_for_deletion",
           "pods_to_delete"]

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

Obj = dict[str, Any]

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _node(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _deletion_cost(pod: Obj) -> int:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _ready_since(pod: Obj) -> datetime | None:
    cond = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    if cond is None or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return parse_time(cond["lastTransitionTime"])


def _created(pod: Obj) -> datetime | None:
    stamp = (pod.get("metadata") or {}).get("creationTimestamp")
    return parse_time(stamp) if stamp else None


def _restarts(pod: Obj) -> int:
    return max((int(c.get("restartCount") or 0)
                for c in (pod.get("status") or {}).get("containerStatuses") or ()), default=0)


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _log_rank(t: datetime, now: datetime) -> int:
    nanos = (now - t).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _newer_first(a: Obj, b: Obj, ta: datetime | None, tb: datetime | None,
                 now: datetime | None) -> int | None:
    """-1 when ``a`` goes first; None when the times do not decide."""
    if ta == tb:
        return None
    if ta is None or tb is None:
        return -1 if ta is None else 1  # a missing time counts as the newest
    if now is None:
        return -1 if ta > tb else 1
    diff = _log_rank(ta, now) - _log_rank(tb, now)
    if diff == 0:
        return -1 if _uid(a) < _uid(b) else (1 if _uid(a) > _uid(b) else 0)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: datetime | None) -> int:
    pa, rank_a = a
    pb, rank_b = b
    na, nb = _node(pa), _node(pb)
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    phase_a = _PHASE_ORDER.get((pa.get("status") or {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDER.get((pb.get("status") or {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    ready_a, ready_b = pod_is_ready(pa), pod_is_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    cost_a, cost_b = _deletion_cost(pa), _deletion_cost(pb)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    if ready_a and ready_b:
        decided = _newer_first(pa, pb, _ready_since(pa), _ready_since(pb), now)
        if decided is not None:
            return decided
    restarts_a, restarts_b = _restarts(pa), _restarts(pb)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    decided = _newer_first(pa, pb, _created(pa), _created(pb), now)
    return decided or 0


def rank_by_colocation(pods: Iterable[Obj], related: Iterable[Obj]) -> list[tuple[Obj, int]]:
    """Pair each pod with how many active related pods share its node."""
    on_node = Counter(_node(p) for p in related if pod_is_active(p))
    return [(pod, on_node[_node(pod)]) for pod in pods]


def sort_for_deletion(ranked: list[tuple[Obj, int]], now: datetime | None) -> list[Obj]:
    """Most deletable first; ``now=None`` compares times linearly instead of by log buckets."""
    def cmp(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        return _compare(a, b, now)

    ordered = sorted(ranked, key=functools.cmp_to_key(cmp))
    return [pod for pod, _ in ordered]


def pods_to_delete(pods: list[Obj], related: list[Obj], count: int, now: datetime) -> list[Obj]:
    """The ``count`` pods to remove from ``pods`` (all of them if count covers all)."""
    if count >= len(pods):
        return list(pods)
    return sort_for_deletion(rank_by_colocation(pods, related), now)[:count]
