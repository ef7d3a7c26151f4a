"""The pods a Job creates, and which of its active pods it removes first.

A Job's pod is its template plus a controller reference and the tracking
finalizer, so the pod cannot vanish before the controller counted it.  In
Indexed mode each pod also carries its completion index -- annotation and
label ``batch.kubernetes.io/job-completion-index``, the environment variable
``JOB_COMPLETION_INDEX`` read from that label through the downward API, the
hostname ``<job>-<index>`` and the name prefix ``<job>-<index>-`` -- as
``pkg/controller/job/indexed_job_utils.go`` builds them.
"""

from __future__ import annotations

from typing import Any

from controllers.job.util import (
    COMPLETION_INDEX,
    COMPLETION_INDEX_ENV,
    JOB_TRACKING_FINALIZER,
    completion_index,
    is_indexed,
)
from controllers.podcontrol import pod_from_template
from controllers.podranking import sort_for_deletion

__all__ = ["pod_for_job", "pods_for_removal", "MAX_GENERATE_NAME"]

Obj = dict[str, Any]

# Names are 253 characters, but generated names leave room for the random suffix;
# a name prefix longer than this is cut as the API server's name generator cuts it.
MAX_GENERATE_NAME = 58


def _generate_name(job_name: str, index: int) -> str:
    prefix = f"{job_name}-{index}-"
    if len(prefix) > MAX_GENERATE_NAME:
        prefix = f"{job_name[:MAX_GENERATE_NAME - len(str(index)) - 2]}-{index}-"
    return prefix


def _add_index_env(containers: list[Obj]) -> None:
    path = f"metadata.labels['{COMPLETION_INDEX}']"
    for container in containers:
        env = container.setdefault("env", [])
        if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
            env.append({"name": COMPLETION_INDEX_ENV,
                        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}})


def pod_for_job(job: Obj, index: int | None) -> Obj:
    """A new pod for ``job``; ``index`` is the completion index in Indexed mode."""
    pod = pod_from_template(job)
    meta = pod["metadata"]
    finalizers = meta.setdefault("finalizers", [])
    if JOB_TRACKING_FINALIZER not in finalizers:
        finalizers.append(JOB_TRACKING_FINALIZER)
    if index is None:
        return pod
    name = job["metadata"]["name"]
    meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
    meta.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
    meta["generateName"] = _generate_name(name, index)
    spec = pod["spec"]
    spec["hostname"] = f"{name}-{index}"
    _add_index_env(spec.setdefault("containers", []))
    _add_index_env(spec.get("initContainers") or [])
    return pod


def _ordered(pods: list[Obj]) -> list[Obj]:
    """Least progressed first: unscheduled, pending, not ready, newest (ActivePods order)."""
    return sort_for_deletion([(p, 0) for p in pods], None)


def pods_for_removal(job: Obj, active: list[Obj], at_least: int,
                     succeeded_indexes: set[int]) -> list[Obj]:
    """Active pods to delete: surplus ones, and in Indexed mode every pod without a valid,
    still-needed, unique index (one pod per index; a succeeded index needs none)."""
    remove: list[Obj] = []
    keep = active
    if is_indexed(job):
        completions = int((job.get("spec") or {}).get("completions") or 0)
        by_index: dict[int, list[Obj]] = {}
        for pod in active:
            index = completion_index(pod)
            if index is None or index >= completions or index in succeeded_indexes:
                remove.append(pod)
            else:
                by_index.setdefault(index, []).append(pod)
        keep = []
        for index in sorted(by_index):
            ordered = _ordered(by_index[index])
            remove.extend(ordered[:-1])  # the most progressed pod of an index stays
            keep.append(ordered[-1])
    if len(remove) < at_least:
        remove.extend(_ordered(keep)[:at_least - len(remove)])
    return remove
