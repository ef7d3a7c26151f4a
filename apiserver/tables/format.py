"""Cell formatting shared by every Table printer.

kubectl prints whatever strings the server puts in a Table's cells, so the
server owns the presentation rules users know from ``kubectl get``: ages in
Kubernetes' ``HumanDuration`` style, ``<none>`` for empty label sets, label
selectors in their canonical string form and "a,b,c + 2 more..." lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "NONE",
    "UNKNOWN",
    "UNSET",
    "dig",
    "count",
    "name_of",
    "age_of",
    "parse_time",
    "human_duration",
    "since",
    "format_labels",
    "format_selector",
    "container_cells",
    "limited_list",
    "join_host_port",
]

NONE = "<none>"
UNKNOWN = "<unknown>"
UNSET = "<unset>"


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Read a nested field of an API object, tolerating absent levels.

    Objects reach the printers as stored, so optional sub-structures are often
    missing or null; every printer reads through this instead of chaining
    ``.get(..., {})`` calls that break on an explicit ``null``.
    """
    node = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                return default
            node = node[key]
        else:
            if not isinstance(node, dict):
                return default
            node = node.get(key)
        if node is None:
            return default
    return node


def count(obj: Any, *path: str | int) -> int:
    """An integer field where absence means zero, as Go's zero values print."""
    return int(dig(obj, *path, default=0) or 0)


def name_of(obj: Any) -> str:
    return str(dig(obj, "metadata", "name", default=""))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 ``Time`` or ``MicroTime`` string as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def human_duration(delta: timedelta) -> str:
    """Kubernetes' ``duration.HumanDuration``: about two significant figures.

    Precision shrinks as durations grow (``90s``, ``3m2s``, ``15m``, ``5h7m``,
    ``20h``, ``2d3h``, ``40d``, ``3y50d``) so an AGE column stays narrow. Up to
    a second in the future still reads ``0s`` to tolerate clock skew.
    """
    total = delta.total_seconds()
    seconds = int(total)  # truncates toward zero, as Go's int() does
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d" if rest == 0 else f"{days}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{years}y"


def since(timestamp: Any, now: datetime) -> str:
    """Elapsed time since an API timestamp, ``<unknown>`` when it is unset."""
    moment = parse_time(timestamp)
    if moment is None:
        return UNKNOWN
    return human_duration(now - moment)


def age_of(obj: Any, now: datetime) -> str:
    """The AGE cell: time since ``metadata.creationTimestamp``."""
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """``k=v`` pairs sorted by key, the way ``labels.FormatLabels`` prints a map."""
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def _requirement(key: str, operator: str, values: Iterable[str]) -> str:
    ordered = ",".join(sorted(values))
    if operator == "In":
        return f"{key} in ({ordered})"
    if operator == "NotIn":
        return f"{key} notin ({ordered})"
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    raise ValueError(operator)


def format_selector(selector: Mapping[str, Any] | None, *, empty: str = NONE) -> str:
    """A ``LabelSelector`` in the string form ``kubectl get -l`` accepts.

    Requirements are ordered by key, as the selector parser orders them; a
    selector that cannot be converted (an unknown operator) prints
    ``<error>``, like ``metav1.FormatLabelSelector``.
    """
    if not selector:
        return empty
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or ():
        key = str(expr.get("key", ""))
        try:
            parts.append((key, _requirement(key, str(expr.get("operator")), expr.get("values") or ())))
        except ValueError:
            return "<error>"
    parts.sort(key=lambda part: part[0])
    return ",".join(text for _, text in parts) or empty


def container_cells(containers: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The comma-joined CONTAINERS and IMAGES cells of a pod template."""
    containers = containers or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def limited_list(items: Iterable[str], *, limit: int = 3, empty: str = UNSET) -> str:
    """Show the first ``limit`` entries and count the rest ("+ N more...")."""
    collected = list(items)
    if not collected:
        return empty
    shown = ",".join(collected[:limit])
    if len(collected) > limit:
        return f"{shown} + {len(collected) - limit} more..."
    return shown


def join_host_port(host: str, port: Any) -> str:
    """``host:port``, bracketing IPv6 literals as Go's ``net.JoinHostPort`` does."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
