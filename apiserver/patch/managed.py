"""``metadata.managedFields`` entries: decoding, identity, ordering, caps, conflicts.

Kubernetes keeps one entry per manager identity -- (manager, operation,
subresource, and for updates the apiVersion) -- so repeated writes by the same
client merge into one entry rather than growing the list. Entries with no
fields left are dropped; beyond ten update entries the oldest fold into an
``ancient-changes`` bucket, so a busy object's metadata stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from machinery.errors import Conflict

from .fieldpath import FieldSet, Path, from_fields_v1, path_string, to_fields_v1

__all__ = [
    "Entry", "APPLY", "UPDATE", "MAX_UPDATE_MANAGERS", "ANCIENT_CHANGES", "decode_entries",
    "encode_entries", "is_reset", "conflict_error", "find_entry",
]

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


@dataclass
class Entry:
    """One manager's claim: its identity, when it last changed something, and its fields."""

    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: FieldSet = field(default_factory=set)

    @property
    def ident(self) -> tuple[str, str, str, str]:
        # Appliers keep one identity across apiVersions; updaters have one per version.
        version = "" if self.operation == APPLY else self.api_version
        return self.manager, self.operation, self.subresource, version

    def describe(self) -> str:
        """The manager as Kubernetes names it in conflict messages."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version}
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def is_reset(raw: Any) -> bool:
    """``[{}]`` is how a client asks Kubernetes to wipe managedFields."""
    return isinstance(raw, list) and len(raw) == 1 and raw[0] == {}


def decode_entries(raw: Any) -> list[Entry] | None:
    """Entries from a managedFields list; None if anything in it is malformed."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    out: list[Entry] = []
    try:
        for item in raw:
            if not isinstance(item, dict):
                return None
            operation = item.get("operation")
            if operation not in (APPLY, UPDATE) or item.get("fieldsType", "FieldsV1") != "FieldsV1":
                return None
            time = item.get("time")
            out.append(Entry(
                manager=str(item.get("manager") or ""),
                operation=operation,
                api_version=str(item.get("apiVersion") or ""),
                subresource=str(item.get("subresource") or ""),
                time=time if isinstance(time, str) else None,
                fields=from_fields_v1(item.get("fieldsV1") or {}),
            ))
    except ValueError:
        return None
    return _merge_duplicates(out)


def _merge_duplicates(entries: list[Entry]) -> list[Entry]:
    by_ident: dict[tuple[str, str, str, str], Entry] = {}
    for entry in entries:
        seen = by_ident.get(entry.ident)
        if seen is None:
            by_ident[entry.ident] = entry
        else:
            seen.fields |= entry.fields
            seen.time = max(seen.time or "", entry.time or "") or None
    return list(by_ident.values())


def find_entry(entries: list[Entry], manager: str, operation: str, api_version: str,
               subresource: str = "") -> Entry | None:
    ident = Entry(manager, operation, api_version, subresource).ident
    return next((e for e in entries if e.ident == ident), None)


def _cap_updates(entries: list[Entry]) -> list[Entry]:
    updates = [e for e in entries if e.operation == UPDATE]
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return entries
    oldest_first = sorted(updates, key=lambda e: (e.time or "", e.manager))
    kept = list(entries)
    count = len(updates)
    for entry in oldest_first:
        if count <= MAX_UPDATE_MANAGERS:
            break
        if entry.manager == ANCIENT_CHANGES:
            continue
        kept.remove(entry)
        bucket = find_entry(kept, ANCIENT_CHANGES, UPDATE, entry.api_version)
        if bucket is None:
            kept.append(Entry(ANCIENT_CHANGES, UPDATE, entry.api_version, time=entry.time,
                              fields=set(entry.fields)))
        else:
            bucket.fields |= entry.fields
            bucket.time = entry.time
            count -= 1
    return kept


def encode_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    """The managedFields list: empty entries dropped, capped, in Kubernetes' order."""
    live = _cap_updates([e for e in entries if e.fields])
    live.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.encode() for e in live]


def _sort_key(path: Path) -> tuple[tuple[int, str], ...]:
    rank = {"f": 0, "k": 1, "v": 2, "i": 3}
    return tuple((rank.get(p[:1], 4), p[2:]) for p in path)


def conflict_error(conflicts: list[tuple[Entry, FieldSet]]) -> Conflict:
    """The 409 an apply gets when it would change fields other managers own."""
    causes: list[dict[str, str]] = []
    listing: list[tuple[str, list[str]]] = []
    total = 0
    for entry, paths in sorted(conflicts, key=lambda c: c[0].describe()):
        shown = [path_string(p) for p in sorted(paths, key=_sort_key)]
        listing.append((entry.describe(), shown))
        total += len(shown)
        causes.extend({"reason": "FieldManagerConflict", "message": f"conflict with {entry.describe()}",
                       "field": text} for text in shown)
    if total == 1:
        who, shown = listing[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {shown[0]}"
    else:
        lines = []
        for who, shown in listing:
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {text}" for text in shown)
        message = f"Apply failed with {total} conflicts: " + "\n".join(lines)
    return Conflict(message, causes=causes)
