"""Validation of the smaller core/v1 kinds: Namespace, Node, ConfigMap, Secret,
ServiceAccount, Endpoints and Event (both the core and the events.k8s.io shape).

Pods, Services and volumes have their own modules; this one keeps the kinds
whose rules are short, in the order Kubernetes checks them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from apiserver.validation import field, names
from apiserver.validation.containers import validate_protocol
from apiserver.validation.field import Cause
from apiserver.validation.meta import immutable, kube_finalizer_name, validate_object_meta
from apiserver.validation.values import (
    IS_NEGATIVE, as_dict, as_int, as_list, as_str, dicts, parse_quantity, quantity_text,
)

__all__ = [
    "validate_namespace",
    "validate_node",
    "validate_node_update",
    "validate_config_map",
    "validate_config_map_update",
    "validate_secret",
    "validate_secret_update",
    "validate_service_account",
    "validate_endpoints",
    "validate_event",
    "validate_events_v1_event",
    "validate_kube_finalizers",
    "MAX_SECRET_SIZE",
]

MAX_SECRET_SIZE = 1024 * 1024
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate_kube_finalizers(finalizers: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for value in as_list(finalizers):
        text = as_str(value)
        causes += names.validate_qualified_name(text, path)
        causes += kube_finalizer_name(text, path)
    return causes


def validate_namespace(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=False,
                                  name_fn=names.name_is_dns_label)
    return causes + validate_kube_finalizers(as_dict(obj.get("spec")).get("finalizers"),
                                             "spec.finalizers")


def _taints(taints: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in dicts(taints):
        item = field.index(path, i)
        key, value, effect = (as_str(taint.get(a)) for a in ("key", "value", "effect"))
        causes += names.validate_label_name(key, field.child(item, "key"))
        messages = names.is_label_value(value)
        if messages:
            causes.append(field.invalid(field.child(item, "value"), value, ";".join(messages)))
        if not effect:
            causes.append(field.required(field.child(item, "effect")))
        elif effect not in _TAINT_EFFECTS:
            causes.append(field.not_supported(field.child(item, "effect"), effect, _TAINT_EFFECTS))
        if (key, effect) in seen:
            dup = field.duplicate(item, taint)
            dup["message"] += ": taints must be unique by key and effect pair"
            causes.append(dup)
        seen.add((key, effect))
    return causes


def _node_resources(status: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for attr in ("capacity", "allocatable"):
        for name, raw in sorted(as_dict(status.get(attr)).items()):
            value = parse_quantity(raw)
            if value is not None and value < 0:
                causes.append(field.invalid(f"status.{attr}.{name}", quantity_text(raw),
                                            IS_NEGATIVE))
    return causes


def validate_node(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=False,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    # Kubernetes reports taint errors under metadata.taints.
    causes += _taints(spec.get("taints"), "metadata.taints")
    causes += _node_resources(as_dict(obj.get("status")))
    for i, cidr in enumerate(as_list(spec.get("podCIDRs"))):
        causes += names.is_valid_cidr(field.index("spec.podCIDRs", i), as_str(cidr))
    return causes


def validate_node_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_node(new)
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    old_cidrs = as_list(old_spec.get("podCIDRs"))
    if old_cidrs and old_cidrs != as_list(new_spec.get("podCIDRs")):
        causes.append(field.forbidden("spec.podCIDRs", "node updates may not change podCIDR "
                                      'except from "" to valid'))
    old_provider = as_str(old_spec.get("providerID"))
    if old_provider and old_provider != as_str(new_spec.get("providerID")):
        causes.append(field.forbidden("spec.providerID", "node updates may not change providerID "
                                      'except from "" to valid'))
    return causes


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(as_str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(as_str(value))


def _data_keys(data: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for k in sorted(as_dict(data)):
        causes += [field.invalid(field.key(path, k), k, m) for m in names.is_config_map_key(k)]
    return causes


def validate_config_map(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    for k in sorted(data):
        causes += [field.invalid(field.key("data", k), k, m) for m in names.is_config_map_key(k)]
        if k in binary:
            causes.append(field.invalid(field.key("data", k), k,
                                        "duplicate of key present in binaryData"))
    causes += _data_keys(binary, "binaryData")
    total = sum(len(as_str(v).encode()) for v in data.values())
    total += sum(_decoded_len(v) for v in binary.values())
    if total > MAX_SECRET_SIZE:
        causes.append(field.too_long("", MAX_SECRET_SIZE))
    return causes


def _immutable_contents(new: dict[str, Any], old: dict[str, Any],
                        attrs: tuple[str, ...]) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    message = "field is immutable when `immutable` is set"
    causes = []
    if new.get("immutable") is not True:
        causes.append(field.forbidden("immutable", message))
    for attr in attrs:
        if as_dict(new.get(attr)) != as_dict(old.get(attr)):
            causes.append(field.forbidden(attr, message))
    return causes


def validate_config_map_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return _immutable_contents(new, old, ("data", "binaryData")) + validate_config_map(new)


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    data = as_dict(obj.get("data"))
    causes += _data_keys(data, "data")
    if sum(_decoded_len(v) for v in data.values()) > MAX_SECRET_SIZE:
        causes.append(field.too_long("data", MAX_SECRET_SIZE))
    secret_type = as_str(obj.get("type"))
    if secret_type == "kubernetes.io/service-account-token":
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        if not as_str(annotations.get("kubernetes.io/service-account.name")):
            causes.append(field.required(
                "metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [field.required("data[username]"), field.required("data[password]")]
    for required_key in _SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if required_key not in data or (secret_type == "kubernetes.io/ssh-auth"
                                        and not data.get(required_key)):
            causes.append(field.required(field.key("data", required_key)))
    return causes


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = immutable(as_str(new.get("type")), as_str(old.get("type")), "type")
    return causes + _immutable_contents(new, old, ("data",)) + validate_secret(new)


def validate_service_account(obj: dict[str, Any]) -> list[Cause]:
    return validate_object_meta(obj.get("metadata"), namespaced=True,
                                name_fn=names.name_is_dns_subdomain)


def _endpoint_address(address: dict[str, Any], path: str) -> list[Cause]:
    causes = names.is_valid_ip(field.child(path, "ip"), as_str(address.get("ip")))
    hostname = as_str(address.get("hostname"))
    if hostname:
        causes += names.validate_dns1123_label(hostname, field.child(path, "hostname"))
    node_name = address.get("nodeName")
    if isinstance(node_name, str):
        causes += [field.invalid(field.child(path, "nodeName"), node_name, m)
                   for m in names.is_dns1123_subdomain(node_name)]
    return causes


def validate_endpoints(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    for i, subset in dicts(obj.get("subsets")):
        item = field.index("subsets", i)
        if not as_list(subset.get("addresses")) and not as_list(subset.get("notReadyAddresses")):
            causes.append(field.required(item, "must specify `addresses` or `notReadyAddresses`"))
        for attr in ("addresses", "notReadyAddresses"):
            for j, address in dicts(subset.get(attr)):
                causes += _endpoint_address(address, field.index(field.child(item, attr), j))
        ports = dicts(subset.get("ports"))
        for j, port in ports:
            port_path = field.index(field.child(item, "ports"), j)
            name = as_str(port.get("name"))
            if len(ports) > 1 and not name:
                causes.append(field.required(field.child(port_path, "name")))
            elif name:
                causes += names.validate_dns1123_label(name, field.child(port_path, "name"))
            number = as_int(port.get("port")) or 0
            causes += [field.invalid(field.child(port_path, "port"), number, m)
                       for m in names.is_valid_port_num(number)]
            causes += validate_protocol(port.get("protocol"), field.child(port_path, "protocol"))
    return causes


def _event_namespace(obj: dict[str, Any], involved_namespace: str) -> list[Cause]:
    namespace = as_str(as_dict(obj.get("metadata")).get("namespace"))
    mismatch = field.invalid("involvedObject.namespace", involved_namespace,
                             "does not match event.namespace")
    if not obj.get("eventTime"):
        if not involved_namespace:
            return [] if namespace in ("", "default") else [mismatch]
        return [] if namespace == involved_namespace else [mismatch]
    if not involved_namespace and namespace not in ("default", "kube-system"):
        return [mismatch]
    return []


def _reporting_fields(obj: dict[str, Any], controller_field: str,
                      message_field: str) -> list[Cause]:
    """New-style event fields; core/v1 calls the controller ``reportingComponent``."""
    causes: list[Cause] = []
    controller = as_str(obj.get(controller_field))
    if not controller:
        causes.append(field.required(controller_field))
    causes += names.validate_qualified_name(controller, controller_field)
    for attr, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = as_str(obj.get(attr))
        if not value:
            causes.append(field.required(attr))
        if len(value) > limit:
            causes.append(field.invalid(attr, "", f"can have at most {limit} characters"))
    if len(as_str(obj.get(message_field))) > 1024:
        causes.append(field.invalid(message_field, "", "can have at most 1024 characters"))
    return causes


def validate_event(obj: dict[str, Any]) -> list[Cause]:
    """A core/v1 Event: the legacy rules plus the object reference k8py needs."""
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    involved = obj.get("involvedObject")
    if not isinstance(involved, dict) or not any(involved.values()):
        causes.append(field.required("involvedObject"))
    causes += _event_namespace(obj, as_str(as_dict(involved).get("namespace")))
    if obj.get("eventTime"):
        causes += _reporting_fields(obj, "reportingComponent", "message")
    return causes


def validate_events_v1_event(obj: dict[str, Any]) -> list[Cause]:
    """An events.k8s.io/v1 Event, which must carry the new-style fields."""
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    if not obj.get("eventTime"):
        causes.append(field.required("eventTime"))
    event_type = as_str(obj.get("type"))
    if event_type not in ("Normal", "Warning"):
        causes.append(field.invalid("type", "", f"has invalid value: {event_type}"))
    for attr in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if obj.get(attr):
            causes.append(field.invalid(attr, "", "needs to be unset"))
    return causes + _reporting_fields(obj, "reportingController", "note")
