"""Pod create and update validation.

A running pod's spec is mostly frozen: ``ValidatePodUpdate`` lets through only
image changes, a shrinking ``activeDeadlineSeconds``, added tolerations,
removed scheduling gates and the negative-grace-period fix, and reports any
other change as one ``spec: Forbidden`` cause followed by a diff.
"""

from __future__ import annotations

import copy
from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause
from apiserver.validation.meta import validate_object_meta
from apiserver.validation.podspec import validate_pod_spec, validate_tolerations
from apiserver.validation.values import as_dict, as_int, as_list, as_str, dicts

__all__ = ["validate_pod", "validate_pod_update", "UPDATABLE_POD_SPEC_FIELDS"]

UPDATABLE_POD_SPEC_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))
_MAX_INT32 = 2 ** 31 - 1


def validate_pod(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    return causes + validate_pod_spec(obj.get("spec"), "spec", is_pod=True)


def _container_updates(new: Any, old: Any, path: str) -> tuple[list[Cause], bool]:
    if len(as_list(new)) != len(as_list(old)):
        return [field.forbidden(path, "pod updates may not add or remove containers")], True
    causes: list[Cause] = []
    for i, ctr in dicts(new):
        image = as_str(ctr.get("image"))
        image_path = field.child(field.index(path, i), "image")
        if not image:
            causes.append(field.required(image_path))
        if image != image.strip():
            causes.append(field.invalid(image_path, image,
                                        "must not have leading or trailing whitespace"))
    return causes, False


def _deadline_update(new: Any, old: Any) -> list[Cause]:
    path = "spec.activeDeadlineSeconds"
    new_value, old_value = as_int(new), as_int(old)
    if new_value is not None:
        if not 0 <= new_value <= _MAX_INT32:
            return [field.invalid(path, new_value, names.inclusive_range_error(0, _MAX_INT32))]
        if old_value is not None and old_value < new_value:
            return [field.invalid(path, new_value, "must be less than or equal to previous value")]
    elif old_value is not None:
        return [field.invalid(path, None, "must not update from a positive integer to nil value")]
    return []


def _only_added_tolerations(new: Any, old: Any) -> list[Cause]:
    path = "spec.tolerations"

    def key(toleration: dict[str, Any]) -> Any:
        return field.zero_pruned({k: v for k, v in toleration.items() if k != "tolerationSeconds"})

    after = [key(t) for _, t in dicts(new)]
    for _, before in dicts(old):
        if key(before) not in after:
            return [field.forbidden(path, "existing toleration can not be modified except its "
                                    "tolerationSeconds")]
    return validate_tolerations(new, path)


def _only_deleted_gates(new: Any, old: Any) -> list[Cause]:
    before = {as_str(g.get("name")) for _, g in dicts(old)}
    return [field.forbidden(field.child(field.index("spec.schedulingGates", i), "name"),
                            "only deletion is allowed, but found new scheduling gate "
                            f"'{as_str(g.get('name'))}'")
            for i, g in dicts(new) if as_str(g.get("name")) not in before]


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_pod(new)
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for attr in ("containers", "initContainers"):
        errs, stop = _container_updates(new_spec.get(attr), old_spec.get(attr),
                                        field.child("spec", attr))
        causes += errs
        if stop:
            return causes
    deadline_errs = _deadline_update(new_spec.get("activeDeadlineSeconds"),
                                     old_spec.get("activeDeadlineSeconds"))
    causes += deadline_errs
    if deadline_errs and new_spec.get("activeDeadlineSeconds") is not None:
        return causes
    causes += _only_added_tolerations(new_spec.get("tolerations"), old_spec.get("tolerations"))
    causes += _only_deleted_gates(new_spec.get("schedulingGates"),
                                  old_spec.get("schedulingGates"))
    new_spec, old_spec = field.zero_pruned(new_spec), field.zero_pruned(old_spec)
    if new_spec == old_spec:
        return causes
    munged = copy.deepcopy(new_spec)
    for attr in ("containers", "initContainers"):
        old_ctrs = as_list(old_spec.get(attr))
        for i, ctr in enumerate(as_list(munged.get(attr))):
            if isinstance(ctr, dict) and i < len(old_ctrs) and isinstance(old_ctrs[i], dict):
                if "image" in old_ctrs[i]:
                    ctr["image"] = old_ctrs[i]["image"]
                else:
                    ctr.pop("image", None)
    for attr in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if attr in old_spec:
            munged[attr] = old_spec[attr]
        else:
            munged.pop(attr, None)
    old_grace = as_int(old_spec.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and as_int(
            munged.get("terminationGracePeriodSeconds")) == 1:
        munged["terminationGracePeriodSeconds"] = old_spec["terminationGracePeriodSeconds"]
    if munged != old_spec:
        causes.append(field.forbidden("spec", "pod updates may not change fields other than "
                                      f"{UPDATABLE_POD_SPEC_FIELDS}\n"
                                      f"{field.go_diff('core.PodSpec', old_spec, munged)}"))
    return causes
