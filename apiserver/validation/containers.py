"""Container validation: names, images, ports, env, mounts, resources, security context.

Follows ``validateContainerCommon`` and friends in Kubernetes' core validation,
including their ordering and field paths, so a bad container produces the same
causes (in the same order) a real API server returns.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause, GoRaw
from apiserver.validation.values import (
    IS_NEGATIVE, as_dict, as_int, as_str, dicts, parse_quantity,
    quantity_text,
)

__all__ = [
    "validate_container_common",
    "validate_protocol",
    "validate_object_field_selector",
    "validate_local_descending_path",
    "validate_local_non_reserved_path",
    "validate_security_context",
    "validate_resource_requirements",
    "host_port_conflicts",
    "PROTOCOLS",
]

PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_POLICIES = ("File", "FallbackToLogsOnError")
_ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
                    "status.podIPs")
_RESOURCE_FIELD_PATHS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory",
                         "requests.cpu", "requests.ephemeral-storage", "requests.memory")
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = _STANDARD_CONTAINER_RESOURCES | {
    "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu",
    "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps", "storage",
    "requests.storage", "services.nodeports", "services.loadbalancers",
}
_MAX_UID = 0xFFFFFFFF


def validate_local_descending_path(target: str, path: str) -> list[Cause]:
    causes = []
    if target.startswith("/"):
        causes.append(field.invalid(path, target, "must be a relative path"))
    if ".." in target.split("/"):
        causes.append(field.invalid(path, target, "must not contain '..'"))
    return causes


def validate_local_non_reserved_path(target: str, path: str) -> list[Cause]:
    causes = validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        causes.append(field.invalid(path, target, "must not start with '..'"))
    return causes


def _ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in dicts(ports):
        item = field.index(path, i)
        name = as_str(port.get("name"))
        if name:
            messages = names.is_valid_port_name(name)
            if messages:
                causes += [field.invalid(field.child(item, "name"), name, m) for m in messages]
            elif name in seen:
                causes.append(field.duplicate(field.child(item, "name"), name))
            else:
                seen.add(name)
        container_port = as_int(port.get("containerPort")) or 0
        if container_port == 0:
            causes.append(field.required(field.child(item, "containerPort")))
        else:
            causes += [field.invalid(field.child(item, "containerPort"), container_port, m)
                       for m in names.is_valid_port_num(container_port)]
        host_port = as_int(port.get("hostPort")) or 0
        if host_port:
            causes += [field.invalid(field.child(item, "hostPort"), host_port, m)
                       for m in names.is_valid_port_num(host_port)]
        causes += validate_protocol(port.get("protocol"), field.child(item, "protocol"))
    return causes


def validate_protocol(value: Any, path: str) -> list[Cause]:
    """A port's ``protocol``: required, and one of TCP, UDP, SCTP (container, Service, Endpoints)."""
    protocol = as_str(value)
    if not protocol:
        return [field.required(path)]
    if protocol not in PROTOCOLS:
        return [field.not_supported(path, protocol, PROTOCOLS)]
    return []


def host_port_conflicts(containers: Any, path: str, seen: set[str] | None = None) -> list[Cause]:
    """``AccumulateUniqueHostPorts``: one protocol/hostIP/hostPort per pod."""
    seen = set() if seen is None else seen
    causes: list[Cause] = []
    for ci, ctr in dicts(containers):
        for pi, port in dicts(ctr.get("ports")):
            host_port = as_int(port.get("hostPort")) or 0
            if not host_port:
                continue
            text = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if text in seen:
                item = field.index(field.child(field.index(path, ci), "ports"), pi)
                causes.append(field.duplicate(field.child(item, "hostPort"), text))
            seen.add(text)
    return causes


def _key_selector(selector: dict[str, Any], path: str) -> list[Cause]:
    name = as_str(selector.get("name"))
    causes = [field.invalid(field.child(path, "name"), name, m)
              for m in names.is_dns1123_subdomain(name)]
    key = as_str(selector.get("key"))
    if not key:
        causes.append(field.required(field.child(path, "key")))
    else:
        causes += [field.invalid(field.child(path, "key"), key, m)
                   for m in names.is_config_map_key(key)]
    return causes


_CONVERTIBLE_FIELD_PATHS = {"metadata.annotations", "metadata.labels", "metadata.name",
                            "metadata.namespace", "metadata.uid", "spec.nodeName",
                            "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
                            "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
                            "status.podIPs"}


def validate_object_field_selector(ref: dict[str, Any], path: str,
                                   allowed: tuple[str, ...]) -> list[Cause]:
    if not as_str(ref.get("apiVersion")):
        return [field.required(field.child(path, "apiVersion"))]
    field_path = as_str(ref.get("fieldPath"))
    if not field_path:
        return [field.required(field.child(path, "fieldPath"))]
    if field_path.endswith("']") and "['" in field_path:
        base, _, key = field_path[:-2].partition("['")
        if base == "metadata.annotations":
            return names.validate_qualified_name(key.lower(), path)
        if base == "metadata.labels":
            return names.validate_qualified_name(key, path)
        return [field.invalid(field.child(path, "fieldPath"), field_path,
                              f"error converting fieldPath: field label not supported: {base}")]
    if field_path not in _CONVERTIBLE_FIELD_PATHS:
        return [field.invalid(field.child(path, "fieldPath"), field_path,
                              f"error converting fieldPath: field label not supported: "
                              f"{field_path}")]
    if field_path not in allowed:
        return [field.not_supported(field.child(path, "fieldPath"), field_path, allowed)]
    return []


def _env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in dicts(env):
        item = field.index(path, i)
        name = as_str(var.get("name"))
        if not name:
            causes.append(field.required(field.child(item, "name")))
        else:
            causes += [field.invalid(field.child(item, "name"), name, m)
                       for m in names.is_env_var_name(name)]
        value_from = var.get("valueFrom")
        if not isinstance(value_from, dict):
            continue
        vf_path = field.child(item, "valueFrom")
        sources = 0
        if isinstance(value_from.get("fieldRef"), dict):
            sources += 1
            causes += validate_object_field_selector(
                value_from["fieldRef"], field.child(vf_path, "fieldRef"), _ENV_FIELD_PATHS)
        if isinstance(value_from.get("resourceFieldRef"), dict):
            sources += 1
            resource = as_str(value_from["resourceFieldRef"].get("resource"))
            rf_path = field.child(field.child(vf_path, "resourceFieldRef"), "resource")
            if not resource:
                causes.append(field.required(rf_path))
            elif resource not in _RESOURCE_FIELD_PATHS and not resource.startswith(
                    ("requests.hugepages-", "limits.hugepages-")):
                causes.append(field.not_supported(rf_path, resource, _RESOURCE_FIELD_PATHS))
        for ref in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(value_from.get(ref), dict):
                sources += 1
                causes += _key_selector(value_from[ref], field.child(vf_path, ref))
        if sources == 0:
            causes.append(field.invalid(vf_path, "", "must specify one of: `fieldRef`, "
                                        "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif as_str(var.get("value")):
            causes.append(field.invalid(vf_path, "", "may not be specified when `value` is not "
                                        "empty"))
        elif sources > 1:
            causes.append(field.invalid(vf_path, "", "may not have more than one field specified "
                                        "at a time"))
    return causes


def _env_from(env_from: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, source in dicts(env_from):
        item = field.index(path, i)
        prefix = as_str(source.get("prefix"))
        if prefix:
            causes += [field.invalid(field.child(item, "prefix"), prefix, m)
                       for m in names.is_env_var_name(prefix)]
        refs = [r for r in ("configMapRef", "secretRef") if isinstance(source.get(r), dict)]
        for ref in refs:
            name = as_str(source[ref].get("name"))
            ref_path = field.child(field.child(item, ref), "name")
            if not name:
                causes.append(field.required(ref_path))
            else:
                causes += [field.invalid(ref_path, name, m)
                           for m in names.name_is_dns_subdomain(name, True)]
        if not refs:
            causes.append(field.invalid(path, "", "must specify one of: `configMapRef` or "
                                        "`secretRef`"))
        elif len(refs) > 1:
            causes.append(field.invalid(path, "", "may not have more than one field specified "
                                        "at a time"))
    return causes


def _volume_mounts(mounts: Any, volumes: dict[str, dict[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    mount_points: set[str] = set()
    for i, mount in dicts(mounts):
        item = field.index(path, i)
        name = as_str(mount.get("name"))
        if not name:
            causes.append(field.required(field.child(item, "name")))
        if name not in volumes:
            causes.append(field.not_found(field.child(item, "name"), name))
        mount_path = as_str(mount.get("mountPath"))
        if not mount_path:
            causes.append(field.required(field.child(item, "mountPath")))
        if mount_path in mount_points:
            causes.append(field.invalid(field.child(item, "mountPath"), mount_path,
                                        "must be unique"))
        mount_points.add(mount_path)
        sub_path = as_str(mount.get("subPath"))
        if sub_path:
            causes += validate_local_descending_path(sub_path, field.child(path, "subPath"))
        sub_path_expr = as_str(mount.get("subPathExpr"))
        if sub_path_expr:
            if sub_path:
                causes.append(field.invalid(field.child(item, "subPathExpr"), sub_path_expr,
                                            "subPathExpr and subPath are mutually exclusive"))
            causes += validate_local_descending_path(sub_path_expr,
                                                     field.child(path, "subPathExpr"))
    return causes


def _pull_policy(value: Any, path: str) -> list[Cause]:
    policy = as_str(value)
    if not policy:
        return [field.required(path)]
    if policy not in _PULL_POLICIES:
        return [field.not_supported(path, policy, _PULL_POLICIES)]
    return []


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _resource_name(name: str, path: str) -> list[Cause]:
    causes = [field.invalid(path, name, m) for m in names.is_qualified_name(name)]
    if causes:
        return causes
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not name.startswith(
                ("hugepages-", "requests.hugepages-")):
            causes.append(field.invalid(path, name, "must be a standard resource type or fully "
                                        "qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            causes.append(field.invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and (name.startswith("requests.")
                                   or names.is_qualified_name("requests." + name)):
        causes.append(field.invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _quantity_value(name: str, raw: Any, path: str) -> list[Cause]:
    value = parse_quantity(raw)
    if value is None:
        return []
    causes = []
    if value < 0:
        causes.append(field.invalid(path, quantity_text(raw), IS_NEGATIVE))
    if not _is_native(name) and value.denominator != 1:
        causes.append(field.invalid(path, GoRaw(quantity_text(raw)), "must be an integer"))
    return causes


def validate_resource_requirements(resources: Any, path: str) -> list[Cause]:
    resources = as_dict(resources)
    limits, requests = as_dict(resources.get("limits")), as_dict(resources.get("requests"))
    lim_path, req_path = field.child(path, "limits"), field.child(path, "requests")
    causes: list[Cause] = []
    for name in sorted(limits):
        causes += _resource_name(name, field.key(lim_path, name))
        causes += _quantity_value(name, limits[name], field.key(lim_path, name))
    for name in sorted(requests):
        item = field.key(req_path, name)
        causes += _resource_name(name, item)
        causes += _quantity_value(name, requests[name], item)
        request = parse_quantity(requests[name])
        if name in limits:
            limit = parse_quantity(limits[name])
            if request is None or limit is None:
                continue
            shown = quantity_text(requests[name])
            if request != limit and not _overcommit_allowed(name):
                causes.append(field.invalid(req_path, shown, f"must be equal to {name} limit of "
                                            f"{quantity_text(limits[name])}"))
            elif request > limit:
                causes.append(field.invalid(req_path, shown, f"must be less than or equal to "
                                            f"{name} limit of {quantity_text(limits[name])}"))
        elif not _overcommit_allowed(name):
            causes.append(field.required(lim_path, "Limit must be set for non overcommitable "
                                         "resources"))
    return causes


def validate_security_context(ctx: Any, path: str) -> list[Cause]:
    if not isinstance(ctx, dict):
        return []
    causes: list[Cause] = []
    for attr in ("runAsUser", "runAsGroup"):
        value = as_int(ctx.get(attr))
        if value is not None and not 0 <= value <= _MAX_UID:
            causes.append(field.invalid(field.child(path, attr), value,
                                        names.inclusive_range_error(0, _MAX_UID)))
    proc_mount = ctx.get("procMount")
    if isinstance(proc_mount, str) and proc_mount not in ("Default", "Unmasked"):
        causes.append(field.not_supported(field.child(path, "procMount"), proc_mount,
                                          ("Default", "Unmasked")))
    if ctx.get("allowPrivilegeEscalation") is False and ctx.get("privileged") is True:
        causes.append(field.invalid(path, ctx, "cannot set `allowPrivilegeEscalation` to false "
                                    "and `privileged` to true"))
    return causes


def validate_container_common(ctr: dict[str, Any], volumes: dict[str, dict[str, Any]],
                              path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(ctr.get("name"))
    if not name:
        causes.append(field.required(field.child(path, "name")))
    else:
        causes += names.validate_dns1123_label(name, field.child(path, "name"))
    if not as_str(ctr.get("image")):
        causes.append(field.required(field.child(path, "image")))
    policy = as_str(ctr.get("terminationMessagePolicy"))
    policy_path = field.child(path, "terminationMessagePolicy")
    if not policy:
        causes.append(field.required(policy_path))
    elif policy not in _TERMINATION_POLICIES:
        causes.append(field.not_supported(policy_path, policy, _TERMINATION_POLICIES))
    causes += _ports(ctr.get("ports"), field.child(path, "ports"))
    causes += _env(ctr.get("env"), field.child(path, "env"))
    causes += _env_from(ctr.get("envFrom"), field.child(path, "envFrom"))
    causes += _volume_mounts(ctr.get("volumeMounts"), volumes, field.child(path, "volumeMounts"))
    causes += _pull_policy(ctr.get("imagePullPolicy"), field.child(path, "imagePullPolicy"))
    causes += validate_resource_requirements(ctr.get("resources"), field.child(path, "resources"))
    causes += validate_security_context(ctr.get("securityContext"),
                                        field.child(path, "securityContext"))
    return causes

