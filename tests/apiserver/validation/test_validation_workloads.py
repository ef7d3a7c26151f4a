"""apps/v1 and batch/v1 validation, including the familiar kubectl error lines."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.validation import invalid_message, validate
from apiserver.validation.cron import schedule_error, time_zone_error
from tests.apiserver.validation.objects import fields, lines, resource, stored

DEPLOY, RS, STS, DS = (resource(p) for p in ("deployments", "replicasets", "statefulsets",
                                              "daemonsets"))
JOB, CRONJOB = resource("jobs"), resource("cronjobs")


def test_negative_replicas_message() -> None:
    obj = stored("deployments")
    obj["spec"]["replicas"] = -1
    causes = validate(DEPLOY, obj)
    assert causes == [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                       "message": "Invalid value: -1: must be greater than or equal to 0"}]
    assert invalid_message("Deployment", "apps", "web2", causes) == (
        'Deployment.apps "web2" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0")


@pytest.mark.parametrize("plural", ["deployments", "replicasets", "daemonsets", "statefulsets"])
def test_selector_must_match_template(plural: str) -> None:
    obj = stored(plural)
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: " \
           "`selector` does not match template `labels`" in lines(validate(resource(plural), obj))


def test_selector_required_and_not_empty() -> None:
    obj = stored("deployments")
    del obj["spec"]["selector"]
    assert lines(validate(DEPLOY, obj)) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`",
    ]
    obj["spec"]["selector"] = {}
    assert lines(validate(DEPLOY, obj)) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment"]


def test_selector_expressions() -> None:
    obj = stored("deployments")
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    assert lines(validate(DEPLOY, obj))[0] == (
        "spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'")


def test_template_restart_policy_must_be_always() -> None:
    obj = stored("deployments")
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert lines(validate(DEPLOY, obj)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: '
        '"Always"']


def test_template_pod_spec_is_validated() -> None:
    obj = stored("deployments")
    del obj["spec"]["template"]["spec"]["containers"][0]["image"]
    assert lines(validate(DEPLOY, obj)) == [
        "spec.template.spec.containers[0].image: Required value"]


def test_deployment_strategy() -> None:
    obj = stored("deployments")
    obj["spec"]["strategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": "0%"}
    assert lines(validate(DEPLOY, obj)) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
        "`maxSurge` is 0"]
    obj["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {}}
    assert lines(validate(DEPLOY, obj)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
        "'Recreate'"]
    obj["spec"]["strategy"] = {"type": "Rolling"}
    assert fields(validate(DEPLOY, obj)) == ["spec.strategy"]
    obj["spec"]["strategy"] = {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "five"}}
    assert lines(validate(DEPLOY, obj)) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater "
        "than 100%",
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: five: a valid percent string must "
        "be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')",
    ]


def test_progress_deadline_exceeds_min_ready() -> None:
    obj = stored("deployments")
    obj["spec"]["minReadySeconds"] = 600
    assert lines(validate(DEPLOY, obj)) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]


def test_selector_is_immutable() -> None:
    old = stored("deployments")
    new = copy.deepcopy(old)
    new["spec"]["selector"]["matchLabels"]["tier"] = "front"
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    assert lines(validate(DEPLOY, new, old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":'
        '"web", "tier":"front"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable"]
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert validate(DEPLOY, scaled, old) == []


def test_statefulset_rules() -> None:
    obj = stored("statefulsets")
    obj["metadata"]["name"] = "db.primary"
    obj["spec"]["podManagementPolicy"] = "Random"
    obj["spec"]["updateStrategy"] = {"type": "OnDelete", "rollingUpdate": {"partition": 0}}
    assert fields(validate(STS, obj)) == ["metadata.name", "spec.podManagementPolicy",
                                          "spec.updateStrategy.rollingUpdate"]
    old = stored("statefulsets")
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    assert lines(validate(STS, new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"]
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    assert validate(STS, new, old) == []


def test_daemonset_update_strategy() -> None:
    obj = stored("daemonsets")
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 1}
    assert lines(validate(DS, obj)) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
        "maxUnavailable is non-zero"]
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 0}
    assert lines(validate(DS, obj)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
        "maxSurge is 0"]


def test_job_restart_policy() -> None:
    obj = stored("jobs")
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert lines(validate(JOB, obj)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']


def test_job_generated_selector_checked() -> None:
    obj = stored("jobs")
    del obj["spec"]["template"]["metadata"]["labels"]["controller-uid"]
    assert lines(validate(JOB, obj)) == [
        "spec.template.metadata.labels[controller-uid]: Required value: must be "
        "'0f1c6a56-1111'"]
    manual = stored("jobs")
    manual["spec"]["manualSelector"] = True
    manual["spec"]["selector"] = {"matchLabels": {"app": "pi"}}
    manual["spec"]["template"]["metadata"]["labels"] = {"app": "pi"}
    assert validate(JOB, manual) == []


def test_job_counts_and_completion_mode() -> None:
    obj = stored("jobs")
    obj["spec"].update(parallelism=-1, backoffLimit=-2, completionMode="Indexed")
    obj["spec"].pop("completions")
    assert lines(validate(JOB, obj)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
        "spec.completions: Required value: when completion mode is Indexed",
    ]


def test_job_template_immutable() -> None:
    old = stored("jobs")
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.40"
    causes = validate(JOB, new, old)
    assert fields(causes) == ["spec.template"]
    assert causes[0]["message"].endswith(": field is immutable")
    suspended_old = copy.deepcopy(old)
    suspended_old["spec"]["suspend"] = True
    moved = copy.deepcopy(suspended_old)
    moved["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert validate(JOB, moved, suspended_old) == []


def test_cronjob_schedule_and_name() -> None:
    obj = stored("cronjobs")
    obj["spec"]["schedule"] = "61 * * * *"
    assert lines(validate(CRONJOB, obj)) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']
    obj["spec"]["schedule"] = "CRON_TZ=UTC * * * * *"
    assert lines(validate(CRONJOB, obj)) == [
        'spec.schedule: Invalid value: "CRON_TZ=UTC * * * * *": cannot use TZ or CRON_TZ in '
        "schedule, use timeZone field instead"]
    obj["spec"]["schedule"] = "@hourly"
    obj["spec"]["timeZone"] = "Europe/Pariss"
    assert lines(validate(CRONJOB, obj)) == [
        'spec.timeZone: Invalid value: "Europe/Pariss": unknown time zone Europe/Pariss']
    obj["spec"]["timeZone"] = "Europe/Paris"
    obj["metadata"]["name"] = "n" * 53
    assert lines(validate(CRONJOB, obj)) == [
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters']


def test_cronjob_keeps_legacy_tz_on_update() -> None:
    old = stored("cronjobs")
    old["spec"]["schedule"] = "TZ=UTC 0 * * * *"
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    assert validate(CRONJOB, new, old) == []


def test_cronjob_job_template_rules() -> None:
    obj = stored("cronjobs")
    job_spec = obj["spec"]["jobTemplate"]["spec"]
    job_spec["selector"] = {"matchLabels": {"a": "b"}}
    job_spec["template"]["spec"]["restartPolicy"] = "Always"
    obj["spec"]["concurrencyPolicy"] = "Sometimes"
    assert fields(validate(CRONJOB, obj)) == [
        "spec.concurrencyPolicy", "spec.jobTemplate.spec.template.spec.restartPolicy",
        "spec.jobTemplate.spec.selector"]


@pytest.mark.parametrize("schedule, error", [
    ("*/5 * * * *", None),
    ("0 0 1 jan-mar mon,fri", None),
    ("@every 1h30m", None),
    ("@daily", None),
    ("TZ=Europe/Paris 0 3 * * *", None),
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("0 24 * * *", "end of range (24) above maximum (23): 24"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("@sometimes", "unrecognized descriptor: @sometimes"),
    ("TZ=Mars/Base 0 * * * *", "provided bad location Mars/Base: unknown time zone Mars/Base"),
    ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
])
def test_cron_parser(schedule: str, error: str | None) -> None:
    assert schedule_error(schedule) == error


def test_time_zone_rules() -> None:
    assert time_zone_error("UTC") is None
    assert time_zone_error("America/New_York") is None
    assert time_zone_error("") == "timeZone must be nil or non-empty string"
    assert time_zone_error("Local").startswith("timeZone must be an explicit time zone")
    assert time_zone_error("../etc") == "unknown time zone ../etc"


def test_controller_revision_needs_data() -> None:
    rev = resource("controllerrevisions")
    obj = {"metadata": {"name": "web-1", "namespace": "default"}, "revision": 1}
    assert lines(validate(rev, obj)) == ["data: Required value: data is mandatory"]
    obj["data"] = {"spec": {}}
    changed: dict[str, Any] = copy.deepcopy(obj)
    changed["data"] = {"spec": {"x": 1}}
    assert fields(validate(rev, changed, obj)) == ["data"]
