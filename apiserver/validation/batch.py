"""batch/v1 validation: Job and CronJob.

Jobs get their selector generated from ``metadata.uid`` during defaulting, so
validation checks that the generated labels are really there; after creation
a Job's template, selector and completion settings are frozen.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.cron import schedule_error, time_zone_error
from apiserver.validation.field import Cause
from apiserver.validation.meta import (
    immutable, selector_matches, validate_label_selector, validate_object_meta,
)
from apiserver.validation.podspec import validate_pod_template
from apiserver.validation.values import as_dict, as_int, as_str, nonnegative

__all__ = [
    "validate_job",
    "validate_job_update",
    "validate_cron_job",
    "validate_cron_job_update",
    "JOB_LABELS",
]

# (controller-uid label, job-name label) pairs, legacy ones first as Kubernetes checks them.
JOB_LABELS = (("controller-uid", "job-name"),
              ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"))
_MAX_INDEXED_PARALLELISM = 100000


def _has_label(labels: dict[str, Any], key: str, expected: str) -> list[Cause]:
    path = field.key("spec.template.metadata.labels", key)
    if key not in labels:
        return [field.required(path, f"must be '{expected}'")]
    if labels[key] != expected:
        return [field.invalid(path, field.go_map(labels), f"must be '{expected}'")]
    return []


def _generated_selector(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    if spec.get("manualSelector") is True or not isinstance(spec.get("selector"), dict):
        return []
    meta = as_dict(obj.get("metadata"))
    uid, name = as_str(meta.get("uid")), as_str(meta.get("name"))
    causes = [] if uid else [field.required("metadata.uid")]
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    expected: dict[str, str] = {}
    for uid_label, name_label in JOB_LABELS:
        causes += _has_label(labels, uid_label, uid) + _has_label(labels, name_label, name)
        expected.update({uid_label: uid, name_label: name})
    if selector_matches(spec["selector"], expected) is False:
        causes.append(field.invalid("spec.selector", spec["selector"],
                                    "`selector` not auto-generated"))
    return causes


def _job_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    """``validateJobSpec``: what Jobs and CronJob job templates share."""
    causes: list[Cause] = []
    for attr in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                 "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += nonnegative(spec.get(attr), field.child(path, attr))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        causes.append(field.required(field.child(path, "backoffLimitPerIndex"),
                                     "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    indexed = mode == "Indexed"
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(field.not_supported(field.child(path, "completionMode"), mode,
                                          ("NonIndexed", "Indexed")))
    if indexed:
        if spec.get("completions") is None:
            causes.append(field.required(field.child(path, "completions"),
                                         "when completion mode is Indexed"))
        parallelism = as_int(spec.get("parallelism"))
        if parallelism is not None and parallelism > _MAX_INDEXED_PARALLELISM:
            causes.append(field.invalid(field.child(path, "parallelism"), parallelism,
                                        "must be less than or equal to 100000 when completion "
                                        "mode is Indexed"))
    else:
        for attr in ("backoffLimitPerIndex", "maxFailedIndexes"):
            value = as_int(spec.get(attr))
            if value is not None:
                causes.append(field.invalid(field.child(path, attr), value,
                                            "requires indexed completion mode"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = ("Failed",) if spec.get("podFailurePolicy") is not None else (
            "Failed", "TerminatingOrFailed")
        if replacement not in allowed:
            causes.append(field.not_supported(field.child(path, "podReplacementPolicy"),
                                              replacement, allowed))
    causes += validate_pod_template(spec.get("template"), field.child(path, "template"))
    restart_path = field.child(path, "template.spec.restartPolicy")
    restart = as_str(as_dict(as_dict(spec.get("template")).get("spec")).get("restartPolicy"))
    if restart in ("Always", ""):
        causes.append(field.required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        causes.append(field.not_supported(restart_path, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        causes.append(field.invalid(restart_path, restart,
                                    'only "Never" is supported when podFailurePolicy is specified'))
    return causes


def _job_selector(spec: dict[str, Any]) -> list[Cause]:
    selector = spec.get("selector")
    causes = (validate_label_selector(selector, "spec.selector") if isinstance(selector, dict)
              else [field.required("spec.selector")])
    labels = as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")
    if isinstance(selector, dict) and selector_matches(selector, labels) is False:
        causes.append(field.invalid("spec.template.metadata.labels", field.go_map(labels),
                                    "`selector` does not match template `labels`"))
    return causes


def validate_job(obj: dict[str, Any]) -> list[Cause]:
    meta = as_dict(obj.get("metadata"))
    causes = validate_object_meta(meta, namespaced=True, name_fn=names.name_is_dns_subdomain)
    causes += _generated_selector(obj)
    spec = as_dict(obj.get("spec"))
    causes += _job_spec(spec, "spec") + _job_selector(spec)
    completions = as_int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions is not None and completions > 0:
        hostname = f"{as_str(meta.get('name'))}-{completions - 1}"
        if names.is_dns1123_label(hostname):
            causes.append(field.invalid("metadata.name", as_str(meta.get("name")),
                                        "will not able to create pod with invalid DNS label: "
                                        f"{hostname}"))
    return causes


def _scheduling_only(template: Any) -> Any:
    """A suspended, never-started Job may change where its pods go, nothing else."""
    template = field.zero_pruned(as_dict(template))
    meta = as_dict(template.get("metadata"))
    meta.pop("labels", None)
    meta.pop("annotations", None)
    spec = as_dict(template.get("spec"))
    for attr in ("nodeSelector", "tolerations", "schedulingGates"):
        spec.pop(attr, None)
    as_dict(spec.get("affinity")).pop("nodeAffinity", None)
    return field.zero_pruned(template)


def validate_job_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(new.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    causes += _job_spec(spec, "spec") + _job_selector(spec)
    completions = spec.get("completions")
    if completions != old_spec.get("completions"):
        if spec.get("completionMode") != "Indexed":
            causes += immutable(completions, old_spec.get("completions"), "spec.completions")
        elif completions is not None and completions != spec.get("parallelism"):
            causes.append(field.invalid("spec.completions", completions,
                                        "can only be modified in tandem with spec.parallelism"))
    causes += immutable(field.zero_pruned(spec.get("selector")),
                        field.zero_pruned(old_spec.get("selector")), "spec.selector",
                        shown=spec.get("selector"))
    template, old_template = spec.get("template"), old_spec.get("template")
    never_started = old_spec.get("suspend") is True and not as_dict(
        old.get("status")).get("startTime")
    compare = _scheduling_only if never_started else field.zero_pruned
    causes += immutable(compare(template), compare(old_template), "spec.template",
                        shown=template)
    for attr in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy",
                 "successPolicy"):
        causes += immutable(spec.get(attr), old_spec.get(attr), field.child("spec", attr))
    return causes


def _cron_job_spec(spec: dict[str, Any], old_spec: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    schedule = as_str(spec.get("schedule"))
    time_zone = spec.get("timeZone")
    if not schedule:
        causes.append(field.required("spec.schedule"))
    else:
        problem = schedule_error(schedule)
        if problem:
            causes.append(field.invalid("spec.schedule", schedule, problem))
        tz_allowed = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
        if tz_allowed and "TZ" in schedule and time_zone is not None:
            causes.append(field.invalid("spec.schedule", schedule, "cannot use both timeZone "
                                        "field and TZ or CRON_TZ in schedule"))
        elif not tz_allowed and "TZ" in schedule:
            causes.append(field.invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in "
                                        "schedule, use timeZone field instead"))
    causes += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    if isinstance(time_zone, str) and (old_spec is None or old_spec.get("timeZone") != time_zone):
        problem = time_zone_error(time_zone)
        if problem:
            causes.append(field.invalid("spec.timeZone", time_zone, problem))
    policy = as_str(spec.get("concurrencyPolicy"))
    if not policy:
        causes.append(field.required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        causes.append(field.not_supported("spec.concurrencyPolicy", policy,
                                          ("Allow", "Forbid", "Replace")))
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    causes += _job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        causes.append(field.invalid("spec.jobTemplate.spec.selector", job_spec["selector"],
                                    "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        causes.append(field.not_supported("spec.jobTemplate.spec.manualSelector", True,
                                          ("nil", "false")))
    for attr in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += nonnegative(spec.get(attr), field.child("spec", attr))
    return causes


def validate_cron_job(obj: dict[str, Any]) -> list[Cause]:
    meta = as_dict(obj.get("metadata"))
    causes = validate_object_meta(meta, namespaced=True, name_fn=names.name_is_dns_subdomain)
    causes += _cron_job_spec(as_dict(obj.get("spec")), None)
    name = as_str(meta.get("name"))
    if len(name) > 52:
        causes.append(field.invalid("metadata.name", name, "must be no more than 52 characters"))
    return causes


def validate_cron_job_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(new.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    return causes + _cron_job_spec(as_dict(new.get("spec")), as_dict(old.get("spec")))
