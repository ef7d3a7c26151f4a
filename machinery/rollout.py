"""Revision bookkeeping of Deployments, shared by the controller and the CLI.

The Deployment controller writes revision numbers into ReplicaSet
annotations and compares pod templates ignoring the ``pod-template-hash``
label; ``rollout history`` and ``rollout undo`` read the same annotations
and make the same comparison.  Both sides must agree exactly, so the names
and the two rules live here once.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "REVISION", "REVISION_HISTORY", "DESIRED_REPLICAS", "MAX_REPLICAS", "ROLLBACK_TO",
    "LAST_APPLIED", "CHANGE_CAUSE", "RESTARTED_AT", "POD_TEMPLATE_HASH", "NOT_COPIED",
    "annotations_of", "revision", "equal_ignore_hash",
]

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"

# Annotations that belong to the Deployment or to one ReplicaSet and never
# travel between them (copying to a new ReplicaSet, or back on a rollback).
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
                        MAX_REPLICAS, ROLLBACK_TO})


def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def revision(obj: Obj) -> int:
    """The revision annotation as a number; 0 when absent or malformed."""
    try:
        return int(annotations_of(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def _normalized(value: Any) -> Any:
    """Drop nulls and empty maps/lists, which Kubernetes' semantic equality ignores."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    """Whether two pod templates are equal apart from the pod-template-hash label."""
    def strip(t: Obj | None) -> Any:
        t = _normalized(t or {})
        labels = (t.get("metadata") or {}).get("labels")
        if labels is not None:
            labels.pop(POD_TEMPLATE_HASH, None)
        return _normalized(t)
    return bool(strip(a) == strip(b))
