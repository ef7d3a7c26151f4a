"""Pure rules of the DaemonSet controller (``pkg/controller/daemon/util`` and friends).

Which nodes a DaemonSet belongs on, what its pods look like, and how its
pods are grouped per node -- functions of the objects passed in, no API
calls.  A node qualifies when the pod template's nodeSelector and required
node affinity match it and no NoSchedule/NoExecute taint is left
untolerated; a pod already there may stay unless a NoExecute taint is
untolerated.  DaemonSet pods always tolerate the node-problem taints
(``AddOrUpdateDaemonPodTolerations``) -- a node agent must keep running on a
node that is unwell -- and each is pinned to its node with a required
``metadata.name`` affinity, then placed by the default scheduler.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from controllers.history import REVISION_HASH_LABEL
from controllers.podcontrol import pod_from_template
from machinery.meta import deepcopy_json
from machinery.nodeaffinity import node_name_affinity, required_affinity_matches, target_node_name
from machinery.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    untolerated,
)

__all__ = ["TEMPLATE_GENERATION_LABEL", "daemon_tolerations", "with_daemon_tolerations",
           "should_run", "pod_template", "pod_for_node", "pods_by_node", "by_age",
           "is_updated", "max_unavailable"]

Obj = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"


def daemon_tolerations(host_network: bool) -> list[Obj]:
    """The tolerations every DaemonSet pod gets, with no time limit."""
    tolerations = [{"key": key, "operator": "Exists", "effect": NO_EXECUTE}
                   for key in (TAINT_NOT_READY, TAINT_UNREACHABLE)]
    no_schedule = [TAINT_DISK_PRESSURE, TAINT_MEMORY_PRESSURE, TAINT_PID_PRESSURE,
                   TAINT_UNSCHEDULABLE]
    if host_network:
        no_schedule.append(TAINT_NETWORK_UNAVAILABLE)
    tolerations += [{"key": key, "operator": "Exists", "effect": NO_SCHEDULE}
                    for key in no_schedule]
    return tolerations


def with_daemon_tolerations(spec: Obj) -> Obj:
    """A copy of a pod spec with the daemon tolerations added where missing."""
    out = deepcopy_json(spec)
    tolerations = list(out.get("tolerations") or [])
    for toleration in daemon_tolerations(bool(out.get("hostNetwork"))):
        if toleration not in tolerations:
            tolerations.append(toleration)
    out["tolerations"] = tolerations
    return out


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """``(should run, may keep running)`` for the DaemonSet's pod on ``node``."""
    spec = with_daemon_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = (node.get("metadata") or {}).get("name")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not required_affinity_matches(spec, node):
        return False, False
    taints = ((node.get("spec") or {}).get("taints") or [])
    left = untolerated(spec["tolerations"], [t for t in taints
                                             if t.get("effect") in (NO_SCHEDULE, NO_EXECUTE)])
    if left:
        return False, not any(t.get("effect") == NO_EXECUTE for t in left)
    return True, True


def pod_template(ds: Obj, hash_: str) -> Obj:
    """The template new pods are made from: daemon tolerations and the revision labels."""
    template = deepcopy_json((ds.get("spec") or {}).get("template") or {})
    template["spec"] = with_daemon_tolerations(template.get("spec") or {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[TEMPLATE_GENERATION_LABEL] = str(ds["metadata"].get("generation") or 1)
    if hash_:
        labels[REVISION_HASH_LABEL] = hash_
    return template


def pod_for_node(ds: Obj, template: Obj, node_name: str) -> Obj:
    """One pod of ``ds`` for ``node_name``, pinned there by node affinity."""
    pod = pod_from_template(ds, template)
    spec = pod["spec"]
    spec["affinity"] = node_name_affinity(spec.get("affinity"), node_name)
    return pod


def pods_by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
    """The DaemonSet's pods grouped by the node they are bound or pinned to."""
    out: dict[str, list[Obj]] = defaultdict(list)
    for pod in pods:
        node = target_node_name(pod)
        if node is not None:
            out[node].append(pod)
    return dict(out)


def by_age(pods: list[Obj]) -> list[Obj]:
    """Scheduled pods first, then oldest first, then by name (``podByCreationTimestampAndPhase``)."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"),
                                       str(p["metadata"].get("creationTimestamp") or ""),
                                       p["metadata"]["name"]))


def is_updated(pod: Obj, hash_: str) -> bool:
    return bool(hash_) and ((pod.get("metadata") or {}).get("labels") or {}).get(
        REVISION_HASH_LABEL) == hash_


def max_unavailable(ds: Obj, desired: int) -> int:
    """``maxUnavailable`` scaled to the desired count (rounded up); at least 1 when any desired."""
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        count = -(-int(value[:-1]) * desired // 100)
    else:
        count = int(value)
    return max(count, 1) if desired > 0 else count
