"""Tables for ``apps/v1`` Deployments, ``batch/v1`` Jobs and CronJobs, ``autoscaling/v1`` HPAs.

Observed with ``kubectl create deployment --image --replicas --port``
(``--replicas=0`` shows ``replicas`` is written even when zero, as the Go
pointer it is), ``create job`` and ``create cronjob --schedule --restart``;
the rest of ``JobSpec`` through ``create job --from=cronjob/<name>`` from a
CronJob that sets every field (see :mod:`.containers`); the autoscaler
with ``kubectl autoscale --min --max --cpu-percent``.
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
        1: ("parallelism", "*int32"),
        2: ("completions", "*int32"),
        3: ("activeDeadlineSeconds", "*int64"),
        6: ("template", "PodTemplateSpec"),
        7: ("backoffLimit", "*int32"),
        8: ("ttlSecondsAfterFinished", "*int32"),
        9: ("completionMode", "*string"),
        10: ("suspend", "*bool"),
        11: ("podFailurePolicy", "PodFailurePolicy"),
        12: ("backoffLimitPerIndex", "*int32"),
        13: ("maxFailedIndexes", "*int32"),
        14: ("podReplacementPolicy", "*string"),
        16: ("successPolicy", "SuccessPolicy"),
    },
    "PodFailurePolicy": {
        1: ("rules", "[]PodFailurePolicyRule"),
    },
    "PodFailurePolicyRule": {
        1: ("action", "string"),
        2: ("onExitCodes", "PodFailurePolicyOnExitCodesRequirement"),
        3: ("onPodConditions", "[]PodFailurePolicyOnPodConditionsPattern"),
    },
    "PodFailurePolicyOnExitCodesRequirement": {
        1: ("containerName", "*string"),
        2: ("operator", "string"),
        3: ("values", "[]int32"),
    },
    "PodFailurePolicyOnPodConditionsPattern": {
        1: ("type", "string"),
        2: ("status", "string"),
    },
    "SuccessPolicy": {
        1: ("rules", "[]SuccessPolicyRule"),
    },
    "SuccessPolicyRule": {
        1: ("succeededIndexes", "*string"),
        2: ("succeededCount", "*int32"),
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
    "HorizontalPodAutoscaler": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "HorizontalPodAutoscalerSpec"),
        3: ("status", "HorizontalPodAutoscalerStatus"),
    },
    "HorizontalPodAutoscalerSpec": {
        1: ("scaleTargetRef", "CrossVersionObjectReference"),
        2: ("minReplicas", "*int32"),
        3: ("maxReplicas", "*int32"),
        4: ("targetCPUUtilizationPercentage", "*int32"),
    },
    "CrossVersionObjectReference": {
        1: ("kind", "string"),
        2: ("name", "string"),
        3: ("apiVersion", "string"),
    },
    "HorizontalPodAutoscalerStatus": {},
}

KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler",
}
