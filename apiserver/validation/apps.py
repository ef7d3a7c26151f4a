"""apps/v1 validation: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

Selector immutability is enforced here for all four workload kinds, as the
apps/v1 strategies do on update.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause, GoRaw
from apiserver.validation.meta import (
    go_selector, immutable, selector_matches, validate_label_selector, validate_object_meta,
)
from apiserver.validation.podspec import validate_pod_template
from apiserver.validation.values import (
    as_dict, as_int, as_str, int_or_percent, is_int, nonnegative,
)

__all__ = [
    "validate_deployment",
    "validate_deployment_update",
    "validate_replica_set",
    "validate_replica_set_update",
    "validate_stateful_set",
    "validate_stateful_set_update",
    "validate_daemon_set",
    "validate_daemon_set_update",
    "validate_controller_revision",
    "validate_controller_revision_update",
    "validate_int_or_percent",
]


def validate_int_or_percent(value: Any, path: str, *, at_most_100: bool = True) -> list[Cause]:
    """``ValidatePositiveIntOrPercent``, optionally with ``IsNotMoreThan100Percent``."""
    if isinstance(value, str):
        causes = [field.invalid(path, GoRaw(value), m) for m in names.is_valid_percent(value)]
        if at_most_100 and not causes and int(value[:-1]) > 100:
            causes.append(field.invalid(path, GoRaw(value), "must not be greater than 100%"))
        return causes
    return nonnegative(value, path)


def _selector(spec: dict[str, Any], kind: str, required: bool = True) -> list[Cause]:
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [field.required("spec.selector")] if required else []
    causes = validate_label_selector(selector, "spec.selector")
    if not as_dict(selector.get("matchLabels")) and not selector.get("matchExpressions"):
        causes.append(field.invalid("spec.selector", go_selector(selector),
                                    f"empty selector is invalid for {kind}"))
    return causes


def _template(spec: dict[str, Any], kind: str, *, full: bool = True) -> list[Cause]:
    """The selector must select the template; controllers need restartPolicy Always."""
    selector = spec.get("selector")
    template = as_dict(spec.get("template"))
    labels = as_dict(template.get("metadata")).get("labels")
    causes: list[Cause] = []
    matches = selector_matches(selector, labels) if isinstance(selector, dict) else False
    empty = isinstance(selector, dict) and not as_dict(selector.get("matchLabels")) and not \
        selector.get("matchExpressions")
    if matches is None:
        causes.append(field.invalid("spec.selector", go_selector(selector),
                                    "invalid label selector"))
        return causes
    if not matches and not empty:
        causes.append(field.invalid("spec.template.metadata.labels", field.go_map(labels),
                                    "`selector` does not match template `labels`"))
    if full:
        causes += validate_pod_template(template, "spec.template")
    else:
        meta = as_dict(template.get("metadata"))
        causes += names.validate_labels(meta.get("labels"), "spec.template.labels")
        causes += names.validate_annotations(meta.get("annotations"), "spec.template.annotations")
    pod_spec = as_dict(template.get("spec"))
    restart = as_str(pod_spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(field.not_supported("spec.template.spec.restartPolicy", restart,
                                          ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(field.forbidden("spec.template.spec.activeDeadlineSeconds",
                                      f"activeDeadlineSeconds in {kind} is not Supported"))
    return causes


def _selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new_sel = as_dict(new.get("spec")).get("selector")
    old_sel = as_dict(old.get("spec")).get("selector")
    if field.zero_pruned(new_sel) == field.zero_pruned(old_sel):
        return []
    return immutable(new_sel, old_sel, "spec.selector", shown=go_selector(new_sel))


def _deployment_strategy(strategy: Any) -> list[Cause]:
    strategy = as_dict(strategy)
    path = "spec.strategy"
    strategy_type = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if strategy_type == "Recreate":
        if rolling is not None:
            return [field.forbidden(field.child(path, "rollingUpdate"), "may not be specified "
                                    "when strategy `type` is 'Recreate'")]
        return []
    if strategy_type != "RollingUpdate":
        return [field.not_supported(path, strategy, ("Recreate", "RollingUpdate"))]
    ru_path = field.child(path, "rollingUpdate")
    if not isinstance(rolling, dict):
        return [field.required(ru_path, "this should be defaulted and never be nil")]
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = validate_int_or_percent(unavailable, field.child(ru_path, "maxUnavailable"))
    causes += validate_int_or_percent(surge, field.child(ru_path, "maxSurge"), at_most_100=False)
    if int_or_percent(unavailable) == 0 and int_or_percent(surge) == 0:
        shown = GoRaw(str(unavailable)) if unavailable is not None else None
        causes.append(field.invalid(field.child(ru_path, "maxUnavailable"), shown,
                                    "may not be 0 when `maxSurge` is 0"))
    return causes


def _replicas_and_timing(spec: dict[str, Any]) -> list[Cause]:
    causes = nonnegative(spec.get("replicas"), "spec.replicas")
    causes += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    return causes


def validate_deployment(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    causes += nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _selector(spec, "deployment")
    causes += _template(spec, "ReplicaSet")
    causes += _deployment_strategy(spec.get("strategy"))
    causes += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = as_int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        causes += nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= (as_int(spec.get("minReadySeconds")) or 0):
            causes.append(field.invalid("spec.progressDeadlineSeconds", deadline,
                                        "must be greater than minReadySeconds"))
    return causes


def validate_deployment_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_deployment(new) + _selector_immutable(new, old)


def validate_replica_set(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    causes += _replicas_and_timing(spec)
    causes += _selector(spec, "deployment")
    return causes + _template(spec, "ReplicaSet")


def validate_replica_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_replica_set(new) + _selector_immutable(new, old)


def _stateful_set_spec(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(field.required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(field.invalid("spec.podManagementPolicy", policy,
                                    "must be 'OrderedReady' or 'Parallel'"))
    strategy = as_dict(spec.get("updateStrategy"))
    strategy_type = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    ru_path = "spec.updateStrategy.rollingUpdate"
    if not strategy_type:
        causes.append(field.required("spec.updateStrategy"))
    elif strategy_type == "OnDelete":
        if rolling is not None:
            causes.append(field.invalid(ru_path, rolling,
                                        "only allowed for updateStrategy 'RollingUpdate'"))
    elif strategy_type == "RollingUpdate":
        if isinstance(rolling, dict):
            causes += nonnegative(rolling.get("partition"), field.child(ru_path, "partition"))
            if rolling.get("maxUnavailable") is not None:
                unavailable = rolling["maxUnavailable"]
                causes += validate_int_or_percent(unavailable,
                                                  field.child(ru_path, "maxUnavailable"))
                if int_or_percent(unavailable) == 0:
                    causes.append(field.invalid(field.child(ru_path, "maxUnavailable"),
                                                GoRaw(str(unavailable)), "cannot be 0"))
    else:
        causes.append(field.invalid("spec.updateStrategy", strategy,
                                    "must be 'RollingUpdate' or 'OnDelete'"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for attr in ("whenDeleted", "whenScaled"):
            value = as_str(retention.get(attr))
            if value not in ("Retain", "Delete"):
                causes.append(field.not_supported(
                    f"spec.persistentVolumeClaimRetentionPolicy.{attr}", value,
                    ("Retain", "Delete")))
    causes += _replicas_and_timing(spec)
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes += nonnegative(ordinals.get("start"), "spec.ordinals.start")
    causes += _selector(spec, "statefulset")
    return causes + _template(spec, "StatefulSet", full=False)


def validate_stateful_set(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_label)
    return causes + _stateful_set_spec(as_dict(obj.get("spec")))


_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_stateful_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = _stateful_set_spec(as_dict(new.get("spec")))
    frozen_new = {k: v for k, v in as_dict(new.get("spec")).items() if k not in _STS_MUTABLE}
    frozen_old = {k: v for k, v in as_dict(old.get("spec")).items() if k not in _STS_MUTABLE}
    if field.zero_pruned(frozen_new) != field.zero_pruned(frozen_old):
        causes.append(field.forbidden("spec", "updates to statefulset spec for fields other than "
                                      "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                      "'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"))
    return causes


def _daemon_set_strategy(strategy: Any) -> list[Cause]:
    strategy = as_dict(strategy)
    path = "spec.updateStrategy"
    strategy_type = as_str(strategy.get("type"))
    if strategy_type == "OnDelete":
        return []
    if strategy_type != "RollingUpdate":
        return [field.not_supported(path, strategy, ("RollingUpdate", "OnDelete"))]
    rolling = strategy.get("rollingUpdate")
    ru_path = field.child(path, "rollingUpdate")
    if not isinstance(rolling, dict):
        return [field.required(ru_path)]
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = validate_int_or_percent(unavailable, field.child(ru_path, "maxUnavailable"))
    causes += validate_int_or_percent(surge, field.child(ru_path, "maxSurge"))
    has_unavailable, has_surge = int_or_percent(unavailable) != 0, int_or_percent(surge) != 0
    if has_unavailable and has_surge:
        causes.append(field.invalid(field.child(ru_path, "maxSurge"), GoRaw(str(surge)),
                                    "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        causes.append(field.required(field.child(ru_path, "maxUnavailable"),
                                     "cannot be 0 when maxSurge is 0"))
    return causes


def validate_daemon_set(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    causes += _selector(spec, "daemonset", required=False)
    causes += _template(spec, "DaemonSet")
    causes += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += _daemon_set_strategy(spec.get("updateStrategy"))
    return causes + nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")


def validate_daemon_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_daemon_set(new) + _selector_immutable(new, old)


def validate_controller_revision(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    if obj.get("data") is None:
        causes.append(field.required("data", "data is mandatory"))
    revision = obj.get("revision")
    return causes + (nonnegative(revision, "revision") if is_int(revision) else [])


def validate_controller_revision_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_controller_revision(new) + immutable(new.get("data"), old.get("data"), "data")
