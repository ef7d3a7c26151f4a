"""Tables for the workload controllers: apps/v1 and batch/v1 kinds.

Replica counts come straight from spec and status (a missing count is 0, the
way Go's zero values print); the wide columns lay out the pod template's
containers and images and the label selector.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.columns import (
    CONTAINERS,
    IMAGES,
    Cell,
    Column,
    Printer,
    age_column,
    field_doc,
    name_column,
)
from apiserver.tables.format import (
    NONE,
    age_of,
    container_cells,
    count,
    dig,
    format_labels,
    format_selector,
    human_duration,
    name_of,
    parse_time,
    since,
)

__all__ = ["PRINTERS"]

_APPS = "io.k8s.api.apps.v1."
_BATCH = "io.k8s.api.batch.v1."


def _template(obj: dict[str, Any], *prefix: str) -> list[Cell]:
    names, images = container_cells(dig(obj, *prefix, "template", "spec", "containers"))
    return [names, images]


def _selector_column(definition: str) -> Column:
    return Column("Selector", description=field_doc(definition, "selector"), priority=1)


def _deployment(obj: dict[str, Any], now: datetime) -> list[Cell]:
    # Deployments print an empty selector as "", not "<none>".
    selector = format_selector(dig(obj, "spec", "selector"), empty="")
    return [
        name_of(obj),
        f"{count(obj, 'status', 'readyReplicas')}/{count(obj, 'spec', 'replicas')}",
        count(obj, "status", "updatedReplicas"),
        count(obj, "status", "availableReplicas"),
        age_of(obj, now),
        *_template(obj, "spec"),
        selector,
    ]


def _replica_set(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        count(obj, "spec", "replicas"),
        count(obj, "status", "replicas"),
        count(obj, "status", "readyReplicas"),
        age_of(obj, now),
        *_template(obj, "spec"),
        format_selector(dig(obj, "spec", "selector")),
    ]


def _stateful_set(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        f"{count(obj, 'status', 'readyReplicas')}/{count(obj, 'spec', 'replicas')}",
        age_of(obj, now),
        *_template(obj, "spec"),
    ]


def _daemon_set(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        count(obj, "status", "desiredNumberScheduled"),
        count(obj, "status", "currentNumberScheduled"),
        count(obj, "status", "numberReady"),
        count(obj, "status", "updatedNumberScheduled"),
        count(obj, "status", "numberAvailable"),
        format_labels(dig(obj, "spec", "template", "spec", "nodeSelector")),
        age_of(obj, now),
        *_template(obj, "spec"),
        format_selector(dig(obj, "spec", "selector")),
    ]


def _job_condition(job: dict[str, Any], kind: str) -> bool:
    for condition in dig(job, "status", "conditions", default=[]):
        if condition.get("type") == kind:
            return bool(condition.get("status") == "True")
    return False


def _job_status(job: dict[str, Any]) -> str:
    if _job_condition(job, "Complete"):
        return "Complete"
    if _job_condition(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if _job_condition(job, "Suspended"):
        return "Suspended"
    if _job_condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_completions(job: dict[str, Any]) -> str:
    succeeded = count(job, "status", "succeeded")
    completions = dig(job, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = count(job, "spec", "parallelism")
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _job_duration(job: dict[str, Any], now: datetime) -> str:
    started = parse_time(dig(job, "status", "startTime"))
    if started is None:
        return ""
    finished = parse_time(dig(job, "status", "completionTime")) or now
    return human_duration(finished - started)


def _job(obj: dict[str, Any], now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        _job_status(obj),
        _job_completions(obj),
        _job_duration(obj, now),
        age_of(obj, now),
        *_template(obj, "spec"),
        format_selector(dig(obj, "spec", "selector")),
    ]


def _cron_job(obj: dict[str, Any], now: datetime) -> list[Cell]:
    last = dig(obj, "status", "lastScheduleTime")
    suspend = dig(obj, "spec", "suspend")
    return [
        name_of(obj),
        str(dig(obj, "spec", "schedule", default="")),
        dig(obj, "spec", "timeZone") or NONE,
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(dig(obj, "status", "active", default=[])),
        since(last, now) if last else NONE,
        age_of(obj, now),
        *_template(obj, "spec", "jobTemplate", "spec"),
        format_selector(dig(obj, "spec", "jobTemplate", "spec", "selector")),
    ]


def _controller_revision(obj: dict[str, Any], now: datetime) -> list[Cell]:
    owner = next(
        (ref for ref in dig(obj, "metadata", "ownerReferences", default=[]) if ref.get("controller")),
        None,
    )
    controller = NONE
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", ""))
        qualified = f"{kind}.{group}" if group else kind
        controller = f"{qualified.lower()}/{owner.get('name', '')}" if kind else str(owner.get("name", ""))
    return [name_of(obj), controller, count(obj, "revision"), age_of(obj, now)]


PRINTERS = {
    ("apps", "deployments"): Printer(
        (
            name_column(),
            Column("Ready", description="Number of the pod with ready state"),
            Column("Up-to-date", "integer", field_doc(_APPS + "DeploymentStatus", "updatedReplicas")),
            Column("Available", "integer", field_doc(_APPS + "DeploymentStatus", "availableReplicas")),
            age_column(),
            CONTAINERS,
            IMAGES,
            _selector_column(_APPS + "DeploymentSpec"),
        ),
        _deployment,
    ),
    ("apps", "replicasets"): Printer(
        (
            name_column(),
            Column("Desired", "integer", field_doc(_APPS + "ReplicaSetSpec", "replicas")),
            Column("Current", "integer", field_doc(_APPS + "ReplicaSetStatus", "replicas")),
            Column("Ready", "integer", field_doc(_APPS + "ReplicaSetStatus", "readyReplicas")),
            age_column(),
            CONTAINERS,
            IMAGES,
            _selector_column(_APPS + "ReplicaSetSpec"),
        ),
        _replica_set,
    ),
    ("apps", "statefulsets"): Printer(
        (
            name_column(),
            Column("Ready", description="Number of the pod with ready state"),
            age_column(),
            CONTAINERS,
            IMAGES,
        ),
        _stateful_set,
    ),
    ("apps", "daemonsets"): Printer(
        (
            name_column(),
            Column("Desired", "integer", field_doc(_APPS + "DaemonSetStatus", "desiredNumberScheduled")),
            Column("Current", "integer", field_doc(_APPS + "DaemonSetStatus", "currentNumberScheduled")),
            Column("Ready", "integer", field_doc(_APPS + "DaemonSetStatus", "numberReady")),
            Column("Up-to-date", "integer", field_doc(_APPS + "DaemonSetStatus", "updatedNumberScheduled")),
            Column("Available", "integer", field_doc(_APPS + "DaemonSetStatus", "numberAvailable")),
            Column("Node Selector", description=field_doc("io.k8s.api.core.v1.PodSpec", "nodeSelector")),
            age_column(),
            CONTAINERS,
            IMAGES,
            _selector_column(_APPS + "DaemonSetSpec"),
        ),
        _daemon_set,
    ),
    ("apps", "controllerrevisions"): Printer(
        (
            name_column(),
            Column("Controller", description="Controller of the object"),
            Column("Revision", "integer", field_doc(_APPS + "ControllerRevision", "revision")),
            age_column(),
        ),
        _controller_revision,
    ),
    ("batch", "jobs"): Printer(
        (
            name_column(),
            Column("Status", description="Status of the job."),
            Column("Completions", description=field_doc(_BATCH + "JobStatus", "succeeded")),
            Column("Duration", description="Time required to complete the job."),
            age_column(),
            CONTAINERS,
            IMAGES,
            _selector_column(_BATCH + "JobSpec"),
        ),
        _job,
    ),
    ("batch", "cronjobs"): Printer(
        (
            name_column(),
            Column("Schedule", description=field_doc(_BATCH + "CronJobSpec", "schedule")),
            Column("Timezone", description=field_doc(_BATCH + "CronJobSpec", "timeZone")),
            Column("Suspend", description=field_doc(_BATCH + "CronJobSpec", "suspend")),
            Column("Active", "integer", field_doc(_BATCH + "CronJobStatus", "active")),
            Column("Last Schedule", description=field_doc(_BATCH + "CronJobStatus", "lastScheduleTime")),
            age_column(),
            CONTAINERS,
            IMAGES,
            _selector_column(_BATCH + "JobSpec"),
        ),
        _cron_job,
    ),
}
