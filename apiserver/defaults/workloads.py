"""Defaults for apps/v1 and batch/v1 workloads.

Follows ``pkg/apis/apps/v1/defaults.go`` and ``pkg/apis/batch/v1/defaults.go``,
plus the Job strategy's selector generation: unless ``manualSelector`` is set,
a Job selects its pods by ``batch.kubernetes.io/controller-uid`` and labels its
template with the uid and name (legacy and prefixed forms), which needs the
``metadata.uid`` the server assigns before defaulting.
"""

from __future__ import annotations

from typing import Any

from apiserver.defaults.fields import child, items, set_if_empty, set_if_none
from apiserver.defaults.podspec import default_pod_template, default_pvc_spec
from apiserver.validation.values import as_dict

__all__ = [
    "default_deployment",
    "default_replica_set",
    "default_stateful_set",
    "default_daemon_set",
    "default_job",
    "default_cron_job",
]


def _rolling(strategy: dict[str, Any], rolling_type: str, unavailable: Any, surge: Any) -> None:
    set_if_empty(strategy, "type", rolling_type)
    if strategy.get("type") == rolling_type:
        rolling = child(strategy, "rollingUpdate")
        set_if_none(rolling, "maxUnavailable", unavailable)
        set_if_none(rolling, "maxSurge", surge)


def default_deployment(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_none(spec, "replicas", 1)
    _rolling(child(spec, "strategy"), "RollingUpdate", "25%", "25%")
    set_if_none(spec, "revisionHistoryLimit", 10)
    set_if_none(spec, "progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))


def default_replica_set(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_none(spec, "replicas", 1)
    default_pod_template(spec.get("template"))


def default_stateful_set(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = child(spec, "updateStrategy")
    if strategy.get("type") in (None, ""):
        strategy["type"] = "RollingUpdate"
        child(strategy, "rollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
        set_if_none(rolling, "partition", 0)
    retention = child(spec, "persistentVolumeClaimRetentionPolicy")
    set_if_empty(retention, "whenDeleted", "Retain")
    set_if_empty(retention, "whenScaled", "Retain")
    set_if_none(spec, "replicas", 1)
    set_if_none(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    for claim in items(spec.get("volumeClaimTemplates")):
        default_pvc_spec(claim.get("spec"))
        set_if_empty(child(claim, "status"), "phase", "Pending")


def default_daemon_set(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    _rolling(child(spec, "updateStrategy"), "RollingUpdate", 1, 0)
    set_if_none(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))


def _generate_selector(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    meta = as_dict(obj.get("metadata"))
    uid, name = meta.get("uid"), meta.get("name")
    if spec.get("manualSelector") is True or not isinstance(uid, str) or not uid:
        return
    labels = child(child(child(spec, "template"), "metadata"), "labels")
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name if isinstance(name, str) else "")
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    child(child(spec, "selector"), "matchLabels").setdefault(
        "batch.kubernetes.io/controller-uid", uid)


def _labels_from_template(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    template_labels = child(child(spec, "template"), "metadata").get("labels")
    meta = child(obj, "metadata")
    if isinstance(template_labels, dict) and template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)


def default_job(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    # Kubernetes copies template labels at decode time, before the strategy generates the
    # selector; a Job created without labels gets the generated ones on its next read.
    _labels_from_template(obj, spec)
    _generate_selector(obj, spec)
    _labels_from_template(obj, spec)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    set_if_none(spec, "parallelism", 1)
    set_if_none(spec, "backoffLimit",
                2 ** 31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6)
    set_if_none(spec, "completionMode", "NonIndexed")
    set_if_none(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in items(failure_policy.get("rules")):
            for pattern in items(rule.get("onPodConditions")):
                set_if_empty(pattern, "status", "True")
    set_if_none(spec, "podReplacementPolicy",
                "Failed" if failure_policy is not None else "TerminatingOrFailed")
    default_pod_template(spec.get("template"))


def default_cron_job(obj: dict[str, Any]) -> None:
    spec = child(obj, "spec")
    set_if_empty(spec, "concurrencyPolicy", "Allow")
    set_if_none(spec, "suspend", False)
    set_if_none(spec, "successfulJobsHistoryLimit", 3)
    set_if_none(spec, "failedJobsHistoryLimit", 1)
    default_pod_template(child(child(spec, "jobTemplate"), "spec").get("template"))
