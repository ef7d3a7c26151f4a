"""Which fields each kind exposes to field selectors, and object predicates.

Kubernetes registers a small per-kind set of selectable fields
(``GetAttrs``/``ToSelectableFields``); anything else is rejected with 400
``field label not supported``. The set is data here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from machinery import errors
from machinery.resources import Resource
from machinery.selectors import FieldSelector, LabelSelector

__all__ = ["selectable_fields", "Predicate", "make_predicate", "check_field_selector"]

Obj = dict[str, Any]


def _get(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


_EXTRA: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
               "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid"),
    "secrets": ("type",),
    "nodes": ("spec.unschedulable",),
    "namespaces": ("status.phase",),
    "replicasets": ("status.replicas",),
    "jobs": ("status.successful",),
    "persistentvolumeclaims": ("spec.volumeName",),
    "services": ("spec.clusterIP", "spec.type"),
}


def selectable_fields(resource: Resource) -> tuple[str, ...]:
    base = ("metadata.name", "metadata.namespace") if resource.namespaced else ("metadata.name",)
    return base + _EXTRA.get(resource.plural, ())


def _field_value(obj: Obj, field: str) -> str:
    if field == "source":
        return _get(obj, "source.component")
    return _get(obj, field)


def check_field_selector(resource: Resource, selector: FieldSelector) -> None:
    allowed = selectable_fields(resource)
    for field, _, _ in selector.requirements():
        if field not in allowed:
            raise errors.BadRequest(
                f'field label not supported: {field}'
                if resource.plural != "pods" else f'"{field}" is not a known field selector: only "{", ".join(allowed)}"')


Predicate = Callable[[Obj], bool]


def make_predicate(
    resource: Resource, namespace: str | None, labels: LabelSelector | None, fields: FieldSelector | None
) -> Predicate:
    """A fast filter for list and watch: namespace, then labels, then fields."""
    label_sel = labels if labels is not None and not labels.empty else None
    field_sel = fields if fields is not None and not fields.empty else None
    if field_sel is not None:
        check_field_selector(resource, field_sel)
    wanted = [f for f, _, _ in field_sel.requirements()] if field_sel else []

    def predicate(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if namespace and meta.get("namespace") != namespace:
            return False
        if label_sel is not None and not label_sel.matches(meta.get("labels") or {}):
            return False
        if field_sel is not None:
            return field_sel.matches({f: _field_value(obj, f) for f in wanted})
        return True

    return predicate
