"""Tables for ``apps/v1`` Deployments and ``batch/v1`` Jobs and CronJobs.

Observed with ``kubectl create deployment --image --replicas --port``
(``--replicas=0`` shows ``replicas`` is written even when zero, as the Go
pointer it is), ``create job`` and ``create cronjob --schedule --restart``.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "Deployment": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "DeploymentSpec"),
        3: ("status", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: ("replicas", "*int32"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
    },
    "DeploymentStrategy": {},
    "DeploymentStatus": {},
    "Job": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
        3: ("status", "JobStatus"),
    },
    "JobSpec": {
        6: ("template", "PodTemplateSpec"),
    },
    "JobStatus": {},
    "CronJob": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "CronJobSpec"),
        3: ("status", "CronJobStatus"),
    },
    "CronJobSpec": {
        1: ("schedule", "string"),
        5: ("jobTemplate", "JobTemplateSpec"),
    },
    "JobTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
    },
    "CronJobStatus": {},
}

KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
}
