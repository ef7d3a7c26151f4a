"""Pure helpers of the Deployment controller (``pkg/controller/deployment/util``).

Everything here is a function of the objects passed in -- no API calls --
so the arithmetic that decides a rollout (surge and unavailability bounds,
revisions, the pod-template hash, condition bookkeeping) is testable alone.
Objects are the JSON dicts of the cache; callers own the copies they pass
to the functions that modify (``set_*``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson

from machinery.meta import format_time, parse_time
from machinery.rollout import (
    DESIRED_REPLICAS,
    LAST_APPLIED,
    MAX_REPLICAS,
    NOT_COPIED,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    ROLLBACK_TO,
    annotations_of,
    equal_ignore_hash,
    revision,
)

__all__ = [
    "REVISION", "REVISION_HISTORY", "DESIRED_REPLICAS", "MAX_REPLICAS", "ROLLBACK_TO",
    "LAST_APPLIED", "POD_TEMPLATE_HASH", "MAX_REVISION_HISTORY_CHARS", "NOT_COPIED",
    "AVAILABLE", "PROGRESSING", "REPLICA_FAILURE", "MIN_AVAILABLE", "MIN_UNAVAILABLE",
    "NEW_RS_CREATED", "FOUND_NEW_RS", "NEW_RS_AVAILABLE", "RS_UPDATED", "FAILED_RS_CREATE",
    "TIMED_OUT", "PAUSED", "RESUMED", "round_half_away", "status_equal",
    "annotations_of", "revision", "max_revision", "last_revision", "compute_hash",
    "equal_ignore_hash",
    "find_new_replicaset", "find_old_replicasets", "replicas", "spec_replicas",
    "total_spec", "total_status", "total_ready", "total_available", "pods_upper_bound",
    "available_lower_bound", "filter_active", "by_creation", "by_size_older",
    "by_size_newer", "by_revision", "scaled_value", "resolve_fenceposts", "max_surge",
    "max_unavailable", "is_rolling", "new_rs_new_replicas", "is_saturated",
    "desired_replicas_annotation", "max_replicas_annotation", "set_replicas_annotations",
    "replicas_annotations_need_update", "set_new_replicaset_annotations", "new_condition",
    "get_condition", "set_condition", "remove_condition", "has_progress_deadline",
    "deployment_complete", "deployment_progressing", "deployment_timed_out",
]

Obj = dict[str, Any]

MAX_REVISION_HISTORY_CHARS = 2000

# Condition types and reasons, as Kubernetes spells them.
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

_MAX_INT32 = 2**31 - 1

# --- revisions and identity ----------------------------------------------------


def max_revision(rss: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def last_revision(rss: Iterable[Obj]) -> int:
    """The second-highest revision: what a bare rollback returns to."""
    top = second = 0
    for rs in rss:
        v = revision(rs)
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """The pod-template-hash: FNV-1a of the template (plus collisions), safely encoded.

    Kubernetes hashes a Go dump of the struct; k8py hashes canonical JSON,
    so values differ from a real cluster but have the same properties:
    stable for a template, different for another, and changed by bumping
    ``collisionCount``.  Encoding follows ``rand.SafeEncodeString`` (no
    vowels, so no words).
    """
    h = 0x811C9DC5
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += int(collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def find_new_replicaset(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the deployment's (there may be several)."""
    template = d["spec"].get("template")
    for rs in by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replicasets(d: Obj, rss: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with pods, all old ReplicaSets)."""
    new = find_new_replicaset(d, rss)
    old = [rs for rs in rss if new is None or _uid(rs) != _uid(new)]
    return [rs for rs in old if spec_replicas(rs) != 0], old


# --- counting --------------------------------------------------------------------


def replicas(d: Obj) -> int:
    """``spec.replicas`` of a Deployment (defaulted to 1)."""
    value = (d.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def spec_replicas(rs: Obj | None) -> int:
    if rs is None:
        return 0
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


def total_spec(rss: Iterable[Obj | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None]) -> int:
    return sum(_status(rs, "replicas") for rs in rss if rs is not None)


def total_ready(rss: Iterable[Obj | None]) -> int:
    return sum(_status(rs, "readyReplicas") for rs in rss if rs is not None)


def total_available(rss: Iterable[Obj | None]) -> int:
    return sum(_status(rs, "availableReplicas") for rs in rss if rs is not None)


def pods_upper_bound(rss: Iterable[Obj | None]) -> int:
    """At most how many pods the ReplicaSets have right now.

    A ReplicaSet only creates up to ``spec.replicas`` and its status trails
    its deletions, so ``max(spec, status)`` bounds its pods even while it is
    still acting on a new spec.  Surge decisions use this, not bare spec
    counts, so a new pod is never created before an old one is really gone.
    """
    return sum(max(spec_replicas(rs), _status(rs, "replicas")) for rs in rss if rs is not None)


def available_lower_bound(rss: Iterable[Obj | None]) -> int:
    """At least how many pods are available: pods beyond spec are about to go."""
    return sum(min(spec_replicas(rs), _status(rs, "availableReplicas"))
               for rs in rss if rs is not None)


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


# --- ordering --------------------------------------------------------------------


def _created(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    stamp = meta.get("creationTimestamp")
    when = format_time(parse_time(stamp)) if stamp else ""
    return when, str(meta.get("name", ""))


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first, names breaking ties."""
    return sorted(rss, key=_created)


def by_size_older(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; among equals the older first."""
    return sorted(by_creation(rss), key=lambda rs: -spec_replicas(rs))


def by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; among equals the newer first."""
    return sorted(list(reversed(by_creation(rss))), key=lambda rs: -spec_replicas(rs))


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """Lowest revision first, creation order breaking ties."""
    return sorted(by_creation(rss), key=revision)


# --- the rolling-update bounds -------------------------------------------------------

_PERCENT = re.compile(r"^(\d+)%$")


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString such as ``1`` or ``"25%"`` applied to ``total``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    match = _PERCENT.match(value)
    if match is None:
        raise ValueError(f"invalid value for IntOrString: {value!r} is not a percentage")
    exact = int(match.group(1)) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def is_rolling(d: Obj) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def _rolling_params(d: Obj) -> tuple[int | str, int | str]:
    params = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return params.get("maxSurge", "25%"), params.get("maxUnavailable", "25%")


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down, and both 0 means 1 unavailable."""
    surge_raw, unavailable_raw = _rolling_params(d)
    desired = replicas(d)
    surge = scaled_value(surge_raw, desired, True)
    unavailable = scaled_value(unavailable_raw, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas(d))


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How far the new ReplicaSet may grow now."""
    if not is_rolling(d):
        return replicas(d)
    surge = scaled_value(_rolling_params(d)[0], replicas(d), True)
    current = pods_upper_bound(all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return spec_replicas(new_rs)
    grow = min(max_total - current, replicas(d) - spec_replicas(new_rs))
    return spec_replicas(new_rs) + max(grow, 0)


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The ReplicaSet alone runs the whole deployment, all available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    return (spec_replicas(rs) == replicas(d) and desired == replicas(d)
            and _status(rs, "availableReplicas") == replicas(d))


# --- annotations ---------------------------------------------------------------------


def _int_annotation(rs: Obj, key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def max_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS)


def _own_annotations(obj: Obj) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    if meta.get("annotations") is None:
        meta["annotations"] = {}
    result: dict[str, str] = meta["annotations"]
    return result


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann = _own_annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def set_new_replicaset_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the deployment's annotations and move the revision forward; True if changed.

    A ReplicaSet that comes back (a rollback, or a template edited back)
    takes the new revision number and remembers its old ones in
    ``revision-history``, capped at 2000 characters oldest-first.
    """
    ann = _own_annotations(rs)
    changed = False
    for key, value in annotations_of(d).items():
        if key in NOT_COPIED or ann.get(key) == value:
            continue
        ann[key] = value
        changed = True
    old_text = ann.get(REVISION, "")
    try:
        old = int(old_text) if old_text else 0
    except ValueError:
        return changed  # leave a foreign value alone rather than guess
    if old < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
            history.append(old_text)
            while history and len(",".join(history)) > MAX_REVISION_HISTORY_CHARS:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# --- conditions and progress ---------------------------------------------------------


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    for cond in status.get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """Replace the condition of that type, unless status and reason are unchanged.

    The transition time survives when only the reason or message moves.
    """
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] \
            and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, type_: str) -> None:
    kept = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != _MAX_INT32


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want
            and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 1))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    """More updated, fewer old, or more ready/available pods than last recorded."""
    old = d.get("status") or {}

    def n(s: Obj, field: str) -> int:
        return int(s.get(field) or 0)
    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(status, "replicas") - n(status, "updatedReplicas")
    return (n(status, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(status, "readyReplicas") > n(old, "readyReplicas")
            or n(status, "availableReplicas") > n(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = cond.get("lastUpdateTime")
    if not since:
        return False
    deadline = timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"]))
    return parse_time(since) + deadline < now


def round_half_away(x: float) -> int:
    """Go's math.Round: halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def _without_zeros(status: Obj) -> Obj:
    return {k: v for k, v in status.items()
            if not (v in (0, None, [], {}) and k != "collisionCount")}


def status_equal(a: Obj | None, b: Obj | None) -> bool:
    """Equality of two statuses, where an absent count equals zero (``omitempty``)."""
    return _without_zeros(a or {}) == _without_zeros(b or {})
