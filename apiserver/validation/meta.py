"""ObjectMeta and LabelSelector validation, shared by every kind.

Mirrors apimachinery's ``ValidateObjectMeta``/``ValidateObjectMetaUpdate`` plus
the core group's extra finalizer rule. Two deliberate differences, both about
work the API server core does before calling us: a missing name is accepted
while ``generateName`` is set (the server may not have generated it yet), and
``generation``, timestamps and ``resourceVersion`` are left to the server.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause, GoRaw
from apiserver.validation.names import NameFn
from apiserver.validation.values import as_dict, as_list, as_str, dicts, nonnegative

__all__ = [
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_label_selector",
    "selector_matches",
    "go_selector",
    "immutable",
    "kube_finalizer_name",
]

_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_BANNED_OWNERS = {("v1", "Event")}


def immutable(new: Any, old: Any, path: str, shown: Any = None) -> list[Cause]:
    """``ValidateImmutableField``: any change is reported with the new value."""
    if new == old:
        return []
    return [field.invalid(path, new if shown is None else shown, field.FIELD_IMMUTABLE)]


def _owner_references(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    first_controller = ""
    for _, ref in dicts(refs):
        api_version = as_str(ref.get("apiVersion"))
        kind = as_str(ref.get("kind"))
        if not api_version.rpartition("/")[2]:
            causes.append(field.invalid(field.child(path, "apiVersion"), api_version,
                                        "version must not be empty"))
        if not kind:
            causes.append(field.invalid(field.child(path, "kind"), kind, "must not be empty"))
        for attr in ("name", "uid"):
            value = as_str(ref.get(attr))
            if not value:
                causes.append(field.invalid(field.child(path, attr), value, "must not be empty"))
        if (api_version, kind) in _BANNED_OWNERS:
            causes.append(field.invalid(path, ref, f"/{api_version}, Kind={kind} is disallowed "
                                        "from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{as_str(ref.get('name'))}"
            if first_controller:
                causes.append(field.invalid(
                    path, refs, 'Only one reference can have Controller set to true. Found '
                    f'"true" in references for {first_controller} and {current}'))
            else:
                first_controller = current
    return causes


def _finalizers(finalizers: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    values = [f for f in as_list(finalizers) if isinstance(f, str)]
    for value in values:
        causes += names.validate_qualified_name(value, path)
    if "orphan" in values and "foregroundDeletion" in values:
        causes.append(field.invalid(path, field.go_strings(values),
                                    "finalizer orphan and foregroundDeletion cannot be both set"))
    for i, value in enumerate(values):
        causes += kube_finalizer_name(value, field.index(path, i))
    return causes


def kube_finalizer_name(value: str, path: str) -> list[Cause]:
    """The core group's rule: unqualified finalizer names must be the standard ones."""
    if "/" not in value and value not in _STANDARD_FINALIZERS:
        return [field.invalid(path, value, "name is neither a standard finalizer name nor is it "
                              "fully qualified")]
    return []


def _managed_fields(entries: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, entry in dicts(entries):
        item = field.index(path, i)
        operation = as_str(entry.get("operation"))
        if operation not in ("Apply", "Update"):
            causes.append(field.invalid(field.child(item, "operation"), operation,
                                        "must be `Apply` or `Update`"))
        fields_type = as_str(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            causes.append(field.invalid(field.child(item, "fieldsType"), fields_type,
                                        "must be `FieldsV1`"))
        if len(as_str(entry.get("manager"))) > 128:
            causes.append(field.too_long(field.child(item, "manager"), 128))
    return causes


def validate_object_meta(meta: Any, *, namespaced: bool, name_fn: NameFn,
                         path: str = "metadata") -> list[Cause]:
    meta = as_dict(meta)
    causes: list[Cause] = []
    name = as_str(meta.get("name"))
    generate_name = as_str(meta.get("generateName"))
    if generate_name:
        causes += [field.invalid(field.child(path, "generateName"), generate_name, m)
                   for m in name_fn(generate_name, True)]
    if name:
        causes += [field.invalid(field.child(path, "name"), name, m)
                   for m in name_fn(name, False)]
    elif not generate_name:
        causes.append(field.required(field.child(path, "name"),
                                     "name or generateName is required"))
    namespace = as_str(meta.get("namespace"))
    ns_path = field.child(path, "namespace")
    if namespaced:
        if not namespace:
            causes.append(field.required(ns_path))
        else:
            causes += [field.invalid(ns_path, namespace, m)
                       for m in names.is_dns1123_label(namespace)]
    elif namespace:
        causes.append(field.forbidden(ns_path, "not allowed on this type"))
    causes += nonnegative(meta.get("generation"), field.child(path, "generation"))
    causes += names.validate_labels(meta.get("labels"), field.child(path, "labels"))
    causes += names.validate_annotations(meta.get("annotations"), field.child(path, "annotations"))
    causes += _owner_references(meta.get("ownerReferences"), field.child(path, "ownerReferences"))
    causes += _finalizers(meta.get("finalizers"), field.child(path, "finalizers"))
    causes += _managed_fields(meta.get("managedFields"), field.child(path, "managedFields"))
    return causes


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[Cause]:
    """What an update may not do to metadata (the new metadata's syntax is checked separately)."""
    new, old = as_dict(new), as_dict(old)
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        before = {f for f in as_list(old.get("finalizers")) if isinstance(f, str)}
        extra = sorted({f for f in as_list(new.get("finalizers")) if isinstance(f, str)} - before)
        if extra:
            causes.append(field.forbidden(
                field.child(path, "finalizers"),
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {field.go_strings(extra)}"))
    for attr in ("name", "namespace"):
        causes += immutable(as_str(new.get(attr)), as_str(old.get(attr)), field.child(path, attr))
    new_uid = as_str(new.get("uid"))
    if new_uid:
        causes += immutable(new_uid, as_str(old.get("uid")), field.child(path, "uid"))
    return causes


_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    if not isinstance(selector, dict):
        return []
    causes = names.validate_labels(selector.get("matchLabels"), field.child(path, "matchLabels"))
    for i, expr in dicts(selector.get("matchExpressions")):
        item = field.index(field.child(path, "matchExpressions"), i)
        operator = as_str(expr.get("operator"))
        values = as_list(expr.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(field.required(field.child(item, "values"),
                                             "must be specified when `operator` is 'In' or "
                                             "'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(field.forbidden(field.child(item, "values"),
                                              "may not be specified when `operator` is 'Exists' "
                                              "or 'DoesNotExist'"))
        else:
            causes.append(field.invalid(field.child(item, "operator"), operator,
                                        "not a valid selector operator"))
        causes += names.validate_label_name(as_str(expr.get("key")), field.child(item, "key"))
        for j, value in enumerate(values):
            text = as_str(value)
            causes += [field.invalid(field.index(field.child(item, "values"), j), text, m)
                       for m in names.is_label_value(text)]
    return causes


def selector_matches(selector: Any, labels: Any) -> bool | None:
    """Whether a LabelSelector selects ``labels``; None when it cannot be built."""
    selector, labels = as_dict(selector), as_dict(labels)
    for k, v in as_dict(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for _, expr in dicts(selector.get("matchExpressions")):
        k, operator = as_str(expr.get("key")), as_str(expr.get("operator"))
        values = [v for v in as_list(expr.get("values")) if isinstance(v, str)]
        if operator not in _OPERATORS:
            return None
        if operator == "In" and labels.get(k) not in values:
            return False
        if operator == "NotIn" and k in labels and labels[k] in values:
            return False
        if operator == "Exists" and k not in labels:
            return False
        if operator == "DoesNotExist" and k in labels:
            return False
    return True


def go_selector(selector: Any) -> GoRaw:
    """Go's ``%#v`` of a ``metav1.LabelSelector``, as immutability errors print it."""
    selector = as_dict(selector)
    match_labels = selector.get("matchLabels")
    exprs = []
    for _, expr in dicts(selector.get("matchExpressions")):
        values = expr.get("values")
        exprs.append("v1.LabelSelectorRequirement{"
                     f"Key:{field.go_quote(as_str(expr.get('key')))}, "
                     f"Operator:{field.go_quote(as_str(expr.get('operator')))}, "
                     f"Values:{field.go_strings(values)}}}")
    expressions = ("[]v1.LabelSelectorRequirement{" + ", ".join(exprs) + "}"
                   if isinstance(selector.get("matchExpressions"), list)
                   else "[]v1.LabelSelectorRequirement(nil)")
    return GoRaw(f"v1.LabelSelector{{MatchLabels:{field.go_map(match_labels)}, "
                 f"MatchExpressions:{expressions}}}")
