"""``meta.k8s.io/v1`` Table responses: what ``kubectl get`` prints.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints
the columns the server chooses, so the server carries the per-kind printers
(the columns of Kubernetes' ``pkg/printers/internalversion``). Kinds without
a printer get NAME and AGE, as kubectl shows for them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from machinery.errors import BadRequest
from machinery.resources import Resource

from apiserver.tables import core, network, pods, storage, workloads
from apiserver.tables.columns import Column, Printer, age_column, name_column
from apiserver.tables.format import age_of, human_duration, name_of

__all__ = [
    "TABLE_CONTENT_TYPE",
    "INCLUDE_OBJECT_POLICIES",
    "Column",
    "Printer",
    "printer_for",
    "to_table",
    "human_duration",
]

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
INCLUDE_OBJECT_POLICIES = ("None", "Metadata", "Object")

_PRINTERS: dict[tuple[str, str], Printer] = {
    **pods.PRINTERS,
    **workloads.PRINTERS,
    **core.PRINTERS,
    **network.PRINTERS,
    **storage.PRINTERS,
}


def _name_and_age(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), age_of(obj, now)]


_DEFAULT = Printer((name_column(), age_column()), _name_and_age)


def printer_for(resource: Resource) -> Printer:
    return _PRINTERS.get((resource.group, resource.plural), _DEFAULT)


def _row_object(resource: Resource, obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def to_table(
    resource: Resource,
    objects: list[dict[str, Any]],
    *,
    list_meta: dict[str, Any] | None = None,
    include_object: str = "Metadata",
    now: datetime | None = None,
    headers: bool = True,
) -> dict[str, Any]:
    """Render objects of one resource as a Table.

    ``list_meta`` is the list's metadata (``resourceVersion``, ``continue``,
    ``remainingItemCount``), carried over so ``kubectl get -w`` and paging
    work on Tables as on lists. ``include_object`` is the ``includeObject``
    query parameter; anything else is a 400, as Kubernetes answers.
    ``headers=False`` leaves out the column definitions, as Kubernetes does
    for every watch event after the first (kubectl reuses the last ones).
    """
    if include_object not in INCLUDE_OBJECT_POLICIES:
        raise BadRequest(
            f"includeObject must be one of {', '.join(INCLUDE_OBJECT_POLICIES)}, not {include_object!r}"
        )
    printer = printer_for(resource)
    moment = now or datetime.now(timezone.utc)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.cells(obj, moment)}
        conditions = printer.conditions(obj) if printer.conditions else None
        if conditions:
            row["conditions"] = conditions
        embedded = _row_object(resource, obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata = {
        key: value
        for key, value in (list_meta or {}).items()
        if key in ("resourceVersion", "continue", "remainingItemCount") and value not in (None, "")
    }
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [column.to_dict() for column in printer.columns] if headers else [],
        "rows": rows,
    }
