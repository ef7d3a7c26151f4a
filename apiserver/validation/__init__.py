"""Validation of API objects, worded and ordered the way Kubernetes does it.

The API server core calls, for every write:

* ``check_schema`` on the decoded body: JSON type errors and unknown fields
  (see ``typecheck``), which Kubernetes reports as 400 BadRequest;
* ``apply_defaults`` (``apiserver.defaults``), then ``validate``: semantic
  rules, returned as ``StatusCause`` dicts for a 422 Invalid whose message
  ``invalid_message`` builds.

Validators are pure functions over dicts, one create and (where a kind has
update rules beyond metadata immutability) one update function per kind,
picked from a table keyed by (group, kind).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.validation import apps, batch, core, networking, pods, services, storage
from apiserver.validation.field import Cause, aggregate, go_quote
from apiserver.validation.meta import validate_object_meta, validate_object_meta_update
from apiserver.validation.names import name_is_dns_subdomain
from apiserver.validation.typecheck import check_schema, decode_error_message, drop_unknown_fields
from machinery.resources import Resource

__all__ = [
    "validate",
    "check_schema",
    "invalid_message",
    "decode_error_message",
    "drop_unknown_fields",
    "Cause",
]

Create = Callable[[dict[str, Any]], list[Cause]]
Update = Callable[[dict[str, Any], dict[str, Any]], list[Cause]]


def _generic(resource: Resource) -> Create:
    def create(obj: dict[str, Any]) -> list[Cause]:
        return validate_object_meta(obj.get("metadata"), namespaced=resource.namespaced,
                                    name_fn=name_is_dns_subdomain)
    return create


_VALIDATORS: dict[tuple[str, str], tuple[Create, Update | None]] = {
    ("", "Pod"): (pods.validate_pod, pods.validate_pod_update),
    ("", "Service"): (services.validate_service, services.validate_service_update),
    ("", "Namespace"): (core.validate_namespace, None),
    ("", "Node"): (core.validate_node, core.validate_node_update),
    ("", "ConfigMap"): (core.validate_config_map, core.validate_config_map_update),
    ("", "Secret"): (core.validate_secret, core.validate_secret_update),
    ("", "ServiceAccount"): (core.validate_service_account, None),
    ("", "Endpoints"): (core.validate_endpoints, None),
    ("", "Event"): (core.validate_event, None),
    ("", "PersistentVolume"): (storage.validate_persistent_volume,
                               storage.validate_persistent_volume_update),
    ("", "PersistentVolumeClaim"): (storage.validate_persistent_volume_claim,
                                    storage.validate_persistent_volume_claim_update),
    ("apps", "Deployment"): (apps.validate_deployment, apps.validate_deployment_update),
    ("apps", "ReplicaSet"): (apps.validate_replica_set, apps.validate_replica_set_update),
    ("apps", "StatefulSet"): (apps.validate_stateful_set, apps.validate_stateful_set_update),
    ("apps", "DaemonSet"): (apps.validate_daemon_set, apps.validate_daemon_set_update),
    ("apps", "ControllerRevision"): (apps.validate_controller_revision,
                                     apps.validate_controller_revision_update),
    ("batch", "Job"): (batch.validate_job, batch.validate_job_update),
    ("batch", "CronJob"): (batch.validate_cron_job, batch.validate_cron_job_update),
    ("coordination.k8s.io", "Lease"): (networking.validate_lease, None),
    ("networking.k8s.io", "Ingress"): (networking.validate_ingress,
                                       networking.validate_ingress_update),
    ("networking.k8s.io", "IngressClass"): (networking.validate_ingress_class,
                                            networking.validate_ingress_class_update),
    ("discovery.k8s.io", "EndpointSlice"): (networking.validate_endpoint_slice,
                                            networking.validate_endpoint_slice_update),
    ("events.k8s.io", "Event"): (core.validate_events_v1_event, None),
    ("storage.k8s.io", "StorageClass"): (storage.validate_storage_class,
                                         storage.validate_storage_class_update),
}


def validate(resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None = None
             ) -> list[Cause]:
    """Field causes for a create (``old`` is None) or an update of ``obj``; empty if valid."""
    if not isinstance(obj, dict):
        return [{"reason": "FieldValueInvalid", "field": "", "message": "Invalid value: "
                 "must be a JSON object"}]
    create, update = _VALIDATORS.get((resource.group, resource.kind), (_generic(resource), None))
    if old is None:
        return create(obj)
    old = old if isinstance(old, dict) else {}
    # Every kind's update starts with the metadata rules; kinds without update rules of
    # their own are then validated as on create.
    causes = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    return causes + (update(obj, old) if update is not None else create(obj))


def invalid_message(kind: str, group: str, name: str, causes: list[Cause]) -> str:
    """The 422 message: ``Deployment.apps "web2" is invalid: spec.replicas: Invalid value: ...``."""
    qualified = f"{kind}.{group}" if group else kind
    return f"{qualified} {go_quote(name)} is invalid: {aggregate(causes)}"
