"""Tables for cluster and configuration kinds: nodes, namespaces, events,
config maps, secrets, service accounts and leases.

Events exist twice (core/v1 and events.k8s.io/v1); the newer shape is mapped
onto the core one first so both print the same LAST SEEN / OBJECT columns,
as Kubernetes does by converting both to one internal type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.columns import Cell, Column, Printer, age_column, field_doc, name_column
from apiserver.tables.format import NONE, UNKNOWN, age_of, count, dig, name_of, since

__all__ = ["PRINTERS", "node_status", "node_roles"]

_CORE = "io.k8s.api.core.v1."
_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def node_status(node: dict[str, Any]) -> str:
    """``Ready``, ``NotReady`` or ``Unknown``, plus ``SchedulingDisabled`` when cordoned."""
    parts = []
    for condition in dig(node, "status", "conditions", default=[]):
        if condition.get("type") == "Ready":
            parts = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if dig(node, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: dict[str, Any]) -> str:
    """Roles from ``node-role.kubernetes.io/<role>`` keys and the legacy role label."""
    roles = set()
    for key, value in (dig(node, "metadata", "labels", default={}) or {}).items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX):]:
            roles.add(key[len(_ROLE_PREFIX):])
        elif key == _ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def _node_address(node: dict[str, Any], kind: str) -> str:
    for address in dig(node, "status", "addresses", default=[]):
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return NONE


def _node(obj: dict[str, Any], now: datetime) -> list[Cell]:
    info = dig(obj, "status", "nodeInfo", default={})
    return [
        name_of(obj),
        node_status(obj),
        node_roles(obj),
        age_of(obj, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(obj, "InternalIP"),
        _node_address(obj, "ExternalIP"),
        info.get("osImage") or UNKNOWN,
        info.get("kernelVersion") or UNKNOWN,
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def _namespace(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [name_of(obj), str(dig(obj, "status", "phase", default="")), age_of(obj, now)]


def _as_core_event(event: dict[str, Any]) -> dict[str, Any]:
    """Read an events.k8s.io/v1 Event through core/v1 field names."""
    return {
        **event,
        "involvedObject": event.get("regarding") or {},
        "message": event.get("note", ""),
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "count": event.get("deprecatedCount"),
        "source": event.get("deprecatedSource") or {},
    }


def _event_source(event: dict[str, Any]) -> str:
    component = dig(event, "source", "component") or event.get("reportingController") or ""
    host = dig(event, "source", "host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _event(event: dict[str, Any], now: datetime) -> list[Cell]:
    first = since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    occurrences = int(event.get("count") or 0) or 1  # singleton events carry no count
    if event.get("series"):
        last = since(dig(event, "series", "lastObservedTime"), now)
        occurrences = count(event, "series", "count")
    involved = event.get("involvedObject") or {}
    target = str(involved.get("kind", "")).lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    return [
        last,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        _event_source(event),
        str(event.get("message") or "").strip(),
        first,
        occurrences,
        name_of(event),
    ]


def _config_map(obj: dict[str, Any], now: datetime) -> list[Cell]:
    entries = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [name_of(obj), entries, age_of(obj, now)]


def _secret(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [name_of(obj), str(obj.get("type") or ""), len(obj.get("data") or {}), age_of(obj, now)]


def _service_account(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [name_of(obj), len(obj.get("secrets") or []), age_of(obj, now)]


def _lease(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [name_of(obj), str(dig(obj, "spec", "holderIdentity", default="")), age_of(obj, now)]


def _event_v1(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return _event(_as_core_event(obj), now)


_EVENT_COLUMNS = (
    Column("Last Seen", description=field_doc(_CORE + "Event", "lastTimestamp")),
    Column("Type", description=field_doc(_CORE + "Event", "type")),
    Column("Reason", description=field_doc(_CORE + "Event", "reason")),
    Column("Object", description=field_doc(_CORE + "Event", "involvedObject")),
    Column("Subobject", description=field_doc(_CORE + "ObjectReference", "fieldPath"), priority=1),
    Column("Source", description=field_doc(_CORE + "Event", "source"), priority=1),
    Column("Message", description=field_doc(_CORE + "Event", "message")),
    Column("First Seen", description=field_doc(_CORE + "Event", "firstTimestamp"), priority=1),
    Column("Count", "integer", field_doc(_CORE + "Event", "count"), priority=1),
    name_column(priority=1),
)

_NODE_INFO = _CORE + "NodeSystemInfo"

PRINTERS = {
    ("", "nodes"): Printer(
        (
            name_column(),
            Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"),
            age_column(),
            Column("Version", description=field_doc(_NODE_INFO, "kubeletVersion")),
            Column("Internal-IP", description=field_doc(_CORE + "NodeStatus", "addresses"), priority=1),
            Column("External-IP", description=field_doc(_CORE + "NodeStatus", "addresses"), priority=1),
            Column("OS-Image", description=field_doc(_NODE_INFO, "osImage"), priority=1),
            Column("Kernel-Version", description=field_doc(_NODE_INFO, "kernelVersion"), priority=1),
            Column("Container-Runtime", description=field_doc(_NODE_INFO, "containerRuntimeVersion"), priority=1),
        ),
        _node,
    ),
    ("", "namespaces"): Printer(
        (name_column(), Column("Status", description="The status of the namespace"), age_column()),
        _namespace,
    ),
    ("", "events"): Printer(_EVENT_COLUMNS, _event),
    ("events.k8s.io", "events"): Printer(_EVENT_COLUMNS, _event_v1),
    ("", "configmaps"): Printer(
        (name_column(), Column("Data", "integer", field_doc(_CORE + "ConfigMap", "data")), age_column()),
        _config_map,
    ),
    ("", "secrets"): Printer(
        (
            name_column(),
            Column("Type", description=field_doc(_CORE + "Secret", "type")),
            Column("Data", "integer", field_doc(_CORE + "Secret", "data")),
            age_column(),
        ),
        _secret,
    ),
    ("", "serviceaccounts"): Printer(
        (name_column(), Column("Secrets", "integer", field_doc(_CORE + "ServiceAccount", "secrets")), age_column()),
        _service_account,
    ),
    ("coordination.k8s.io", "leases"): Printer(
        (
            name_column(),
            Column("Holder", description=field_doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
            age_column(),
        ),
        _lease,
    ),
}
