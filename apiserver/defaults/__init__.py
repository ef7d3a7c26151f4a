"""API defaults, applied in place before validation and storage.

Kubernetes fills unset fields when it decodes a request (``SetDefaults_*`` in
``pkg/apis/*/v1/defaults.go``), in create strategies and in the admission
plugins every cluster runs; clients then read those values back (``kubectl
describe`` shows ``Port: 80/TCP`` only because ``protocol`` was defaulted).
``apply_defaults`` reproduces that in one idempotent pass per object, keyed by
(group, kind).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.defaults import core, workloads
from apiserver.defaults.podspec import default_pod
from machinery.resources import Resource

__all__ = ["apply_defaults"]

_DEFAULTERS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("", "Pod"): default_pod,
    ("", "Service"): core.default_service,
    ("", "Namespace"): core.default_namespace,
    ("", "Secret"): core.default_secret,
    ("", "PersistentVolumeClaim"): core.default_pvc,
    ("", "PersistentVolume"): core.default_pv,
    ("", "Node"): core.default_node,
    ("", "Endpoints"): core.default_endpoints,
    ("apps", "Deployment"): workloads.default_deployment,
    ("apps", "ReplicaSet"): workloads.default_replica_set,
    ("apps", "StatefulSet"): workloads.default_stateful_set,
    ("apps", "DaemonSet"): workloads.default_daemon_set,
    ("batch", "Job"): workloads.default_job,
    ("batch", "CronJob"): workloads.default_cron_job,
    ("discovery.k8s.io", "EndpointSlice"): core.default_endpoint_slice,
    ("networking.k8s.io", "IngressClass"): core.default_ingress_class,
    ("storage.k8s.io", "StorageClass"): core.default_storage_class,
}


def apply_defaults(resource: Resource, obj: dict[str, Any]) -> None:
    """Fill ``obj``'s unset fields as Kubernetes would; applying twice changes nothing."""
    defaulter = _DEFAULTERS.get((resource.group, resource.kind))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)
