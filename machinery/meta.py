"""Helpers over API objects kept as plain dicts, shared by every component.

Objects travel from etcd to informer caches as JSON dicts (STYLE.md §6), so
the small questions every controller asks -- who owns this, is it being
deleted, is this pod ready, what time is it in Kubernetes' format -- are
answered here once, with Kubernetes' exact rules (``metav1.Time`` is RFC 3339
in whole seconds, ``MicroTime`` has six fractional digits; a pod counts as
available only once it has been Ready for strictly longer than
minReadySeconds).
"""

# No ``from __future__ import annotations`` here: the module exports a
# function named ``annotations``, which that import would shadow for mypy.
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import orjson

__all__ = [
    "now_rfc3339",
    "now_micro",
    "format_time",
    "format_micro_time",
    "parse_time",
    "namespaced_name",
    "split_key",
    "get_controller_of",
    "owner_reference",
    "is_owned_by",
    "labels",
    "annotations",
    "set_condition",
    "get_condition",
    "is_being_deleted",
    "deepcopy_json",
    "pod_is_ready",
    "pod_is_terminal",
    "pod_is_active",
    "pod_is_available",
]

Obj = Mapping[str, Any]
T = TypeVar("T")

# --- time -------------------------------------------------------------------


def format_time(when: datetime) -> str:
    """A ``metav1.Time``: UTC, whole seconds, ``Z`` suffix.

    The year is always four digits: glibc's ``%Y`` writes year 1 (Go's zero time,
    which Docker reports for a container it has no reading of) as ``1``, which no
    Go client can parse."""
    utc = _as_utc(when)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%SZ")


def format_micro_time(when: datetime) -> str:
    """A ``metav1.MicroTime`` (events, leases): six fractional digits."""
    utc = _as_utc(when)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.%fZ")


def now_rfc3339() -> str:
    return format_time(datetime.now(timezone.utc))


def now_micro() -> str:
    return format_micro_time(datetime.now(timezone.utc))


def _as_utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("naive datetime: API times must be timezone-aware")
    return when.astimezone(timezone.utc)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(s: str) -> datetime:
    """Read any RFC 3339 time a client may send (up to nanoseconds, any offset) as aware UTC.

    Go clients emit nine fractional digits, which ``datetime.fromisoformat``
    on 3.11 refuses; the digits past microseconds are truncated.
    """
    match = _RFC3339.fullmatch(s.strip()) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"invalid RFC 3339 time: {s!r}")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz)
    return when.astimezone(timezone.utc)


# --- identity and ownership -------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def namespaced_name(obj: Obj) -> str:
    """The work-queue key: ``namespace/name``, or ``name`` for cluster-scoped objects."""
    meta = _meta(obj)
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def split_key(key: str) -> tuple[str | None, str]:
    """Undo :func:`namespaced_name`; more than one ``/`` is an error, as in client-go."""
    parts = key.split("/")
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0] or None, parts[1]
    raise ValueError(f"unexpected key format: {key!r}")


def get_controller_of(obj: Obj) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``; there is at most one."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Obj, *, controller: bool = True,
                    block_owner_deletion: bool = True) -> dict[str, Any]:
    """The reference a controller stamps on objects it creates from ``owner``."""
    meta = _meta(owner)
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def is_owned_by(obj: Obj, owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in _meta(obj).get("ownerReferences") or ())


def labels(obj: Obj) -> dict[str, str]:
    """The object's own labels dict (not a copy), or a fresh empty one."""
    return _meta(obj).get("labels") or {}


def annotations(obj: Obj) -> dict[str, str]:
    """The object's own annotations dict (not a copy), or a fresh empty one."""
    return _meta(obj).get("annotations") or {}


def is_being_deleted(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


# --- conditions -------------------------------------------------------------


def get_condition(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    for cond in conditions or ():
        if cond.get("type") == type_:
            return cond
    return None


def set_condition(conditions: list[dict[str, Any]], cond: Mapping[str, Any], now: str) -> bool:
    """Merge ``cond`` into ``conditions`` in place; True when anything changed.

    As ``meta.SetStatusCondition``: ``lastTransitionTime`` moves only when the
    status flips (a new condition keeps the one it carries, else ``now``),
    so the history of a condition shows when it last *changed*, not when it
    was last written. Every other field is copied when it differs.
    """
    current = get_condition(conditions, cond["type"])
    if current is None:
        new = dict(cond)
        new["lastTransitionTime"] = cond.get("lastTransitionTime") or now
        conditions.append(new)
        return True
    changed = False
    if current.get("status") != cond.get("status"):
        current["lastTransitionTime"] = cond.get("lastTransitionTime") or now
        changed = True
    for key, value in cond.items():
        if key != "lastTransitionTime" and current.get(key) != value:
            current[key] = value
            changed = True
    return changed


# --- copying ----------------------------------------------------------------

_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | \
    orjson.OPT_PASSTHROUGH_SUBCLASS


def _copy_tree(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_tree(v) for v in obj]
    return obj


def deepcopy_json(obj: T) -> T:
    """Copy a JSON tree so a cached object can be edited safely.

    A round trip through orjson is ~7x faster than ``copy.deepcopy`` and
    ~2.5x faster than a recursive Python copy on a typical pod (5 us vs 38 us
    and 13 us). Trees orjson cannot represent exactly (non-string keys, big
    ints, datetimes, str subclasses) fall back to the recursive copy, which
    shares such leaves: they are immutable. Tuples come back as lists.
    """
    try:
        return orjson.loads(orjson.dumps(obj, option=_ORJSON_STRICT))  # type: ignore[no-any-return]
    except (TypeError, orjson.JSONEncodeError):
        return _copy_tree(obj)  # type: ignore[no-any-return]


# --- pods -------------------------------------------------------------------


def _pod_ready_condition(pod: Obj) -> dict[str, Any] | None:
    return get_condition((pod.get("status") or {}).get("conditions"), "Ready")


def pod_is_ready(pod: Obj) -> bool:
    cond = _pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def pod_is_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: the pod will never run again."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_is_active(pod: Obj) -> bool:
    """Counts toward a workload's replicas: not terminal and not being deleted."""
    return not pod_is_terminal(pod) and not is_being_deleted(pod)


def pod_is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and (with minReadySeconds) Ready since strictly before ``now - minReadySeconds``."""
    cond = _pod_ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = cond.get("lastTransitionTime")
    if not since:
        return False
    return parse_time(since) + timedelta(seconds=min_ready_seconds) < now
