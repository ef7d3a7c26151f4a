"""PodSpec and PodTemplateSpec validation, as ``ValidatePodSpec`` orders it.

Used for Pods and for every pod template (Deployments, Jobs...); ``is_pod``
switches on the few checks Kubernetes applies only to real Pods.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.containers import (
    host_port_conflicts, validate_container_common, validate_resource_requirements,
    validate_security_context,
)
from apiserver.validation.field import Cause
from apiserver.validation.probes import validate_lifecycle_and_probes
from apiserver.validation.values import as_dict, as_int, as_list, as_str, dicts
from apiserver.validation.volumes import validate_volumes

__all__ = [
    "validate_pod_spec",
    "validate_pod_template",
    "validate_tolerations",
    "RESTART_POLICIES",
]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_MAX_INT32 = 2 ** 31 - 1


def _enum(value: Any, path: str, allowed: tuple[str, ...]) -> list[Cause]:
    text = as_str(value)
    if not text:
        return [field.required(path)]
    if text not in allowed:
        return [field.not_supported(path, text, allowed)]
    return []


def _containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]], grace: int | None,
                path: str) -> list[Cause]:
    containers = as_list(spec.get("containers"))
    if not containers:
        return [field.required(path)]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, ctr in dicts(containers):
        item = field.index(path, i)
        causes += validate_container_common(ctr, volumes, item)
        name = as_str(ctr.get("name"))
        if name in seen:
            causes.append(field.duplicate(field.child(item, "name"), name))
        seen.add(name)
        causes += validate_lifecycle_and_probes(ctr, grace, item)
        if ctr.get("restartPolicy") is not None:
            causes.append(field.forbidden(field.child(item, "restartPolicy"),
                                          "may not be set for non-init containers"))
    return causes + host_port_conflicts(containers, path)


def _init_containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]],
                     grace: int | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen = {as_str(c.get("name")) for _, c in dicts(spec.get("containers"))}
    for i, ctr in dicts(spec.get("initContainers")):
        item = field.index(path, i)
        causes += validate_container_common(ctr, volumes, item)
        restart = ctr.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(field.not_supported(field.child(item, "restartPolicy"), restart,
                                              ("Always",)))
        name = as_str(ctr.get("name"))
        if name in seen:
            causes.append(field.duplicate(field.child(item, "name"), name))
        elif name:
            seen.add(name)
        causes += host_port_conflicts([ctr], path)
        if restart == "Always":
            causes += validate_lifecycle_and_probes(ctr, grace, item)
            continue
        for attr in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if ctr.get(attr) is not None:
                causes.append(field.forbidden(field.child(item, attr), "may not be set for init "
                                              "containers without restartPolicy=Always"))
    return causes


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, tol in dicts(tolerations):
        item = field.index(path, i)
        key, operator = as_str(tol.get("key")), as_str(tol.get("operator"))
        value, effect = as_str(tol.get("value")), as_str(tol.get("effect"))
        if key:
            causes += names.validate_label_name(key, field.child(item, "key"))
        if not key and operator != "Exists":
            causes.append(field.invalid(field.child(item, "operator"), operator,
                                        "operator must be Exists when `key` is empty, which "
                                        'means "match all values and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(field.invalid(field.child(item, "effect"), effect, "effect must be "
                                        "'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            messages = names.is_label_value(value)
            if messages:
                causes.append(field.invalid(field.child(item, "operator"), value,
                                            ";".join(messages)))
        elif operator == "Exists":
            if value:
                causes.append(field.invalid(field.child(item, "operator"), value,
                                            "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(field.not_supported(field.child(item, "operator"), operator,
                                              ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(field.not_supported(field.child(item, "effect"), effect, _TAINT_EFFECTS))
    return causes


def _node_selector_requirement(req: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    operator, values = as_str(req.get("operator")), as_list(req.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(field.required(field.child(path, "values"), "must be specified when "
                                         "`operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(field.forbidden(field.child(path, "values"), "may not be specified "
                                          "when `operator` is 'Exists' or 'DoesNotExist'"))
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            causes.append(field.required(field.child(path, "values"), "must be specified single "
                                         "value when `operator` is 'Lt' or 'Gt'"))
    else:
        causes.append(field.invalid(field.child(path, "operator"), operator,
                                    "not a valid selector operator"))
    return causes + names.validate_label_name(as_str(req.get("key")), field.child(path, "key"))


def _node_selector_term(term: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for j, req in dicts(term.get("matchExpressions")):
        causes += _node_selector_requirement(req, field.index(field.child(path, "matchExpressions"),
                                                              j))
    return causes


def _weight(term: dict[str, Any], path: str) -> list[Cause]:
    weight = as_int(term.get("weight")) or 0
    if not 0 < weight <= 100:
        return [field.invalid(field.child(path, "weight"), weight, "must be in the range 1-100")]
    return []


def _pod_affinity_terms(terms: Any, path: str, weighted: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, term in dicts(terms):
        item = field.index(path, i)
        if weighted:
            causes += _weight(term, item)
            item = field.child(item, "podAffinityTerm")
            term = as_dict(term.get("podAffinityTerm"))
        topology_key = as_str(term.get("topologyKey"))
        if not topology_key:
            causes.append(field.required(field.child(item, "topologyKey"), "can not be empty"))
        causes += names.validate_label_name(topology_key, field.child(item, "topologyKey"))
    return causes


def _affinity(affinity: Any, path: str) -> list[Cause]:
    affinity = as_dict(affinity)
    causes: list[Cause] = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        node_path = field.child(path, "nodeAffinity")
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required, dict):
            req_path = field.child(field.child(node_path,
                                               "requiredDuringSchedulingIgnoredDuringExecution"),
                                   "nodeSelectorTerms")
            terms = as_list(required.get("nodeSelectorTerms"))
            if not terms:
                causes.append(field.required(req_path, "must have at least one node selector "
                                             "term"))
            for i, term in dicts(terms):
                causes += _node_selector_term(term, field.index(req_path, i))
        pref_path = field.child(node_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in dicts(node.get("preferredDuringSchedulingIgnoredDuringExecution")):
            causes += _weight(term, field.index(pref_path, i))
            causes += _node_selector_term(as_dict(term.get("preference")),
                                          field.child(field.index(pref_path, i), "preference"))
    for kind in ("podAffinity", "podAntiAffinity"):
        body = affinity.get(kind)
        if isinstance(body, dict):
            kind_path = field.child(path, kind)
            for attr, weighted in (("requiredDuringSchedulingIgnoredDuringExecution", False),
                                   ("preferredDuringSchedulingIgnoredDuringExecution", True)):
                causes += _pod_affinity_terms(body.get(attr), field.child(kind_path, attr),
                                              weighted)
    return causes


def _dns_config(spec: dict[str, Any], path: str) -> list[Cause]:
    config = spec.get("dnsConfig")
    if as_str(spec.get("dnsPolicy")) == "None":
        if not isinstance(config, dict):
            return [field.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(config.get("nameservers")):
            return [field.required(field.child(path, "nameservers"), "must provide at least one "
                                   "DNS nameserver when `dnsPolicy` is None")]
    if not isinstance(config, dict):
        return []
    causes: list[Cause] = []
    nameservers = as_list(config.get("nameservers"))
    if len(nameservers) > 3:
        causes.append(field.invalid(field.child(path, "nameservers"),
                                    field.go_strings(nameservers),
                                    "must not have more than 3 nameservers"))
    for i, server in enumerate(nameservers):
        causes += names.is_valid_ip(field.index(field.child(path, "nameservers"), i),
                                    as_str(server))
    for i, search in enumerate(as_list(config.get("searches"))):
        text = as_str(search)
        if text != ".":
            text = text.removesuffix(".")
            causes += names.validate_dns1123_subdomain(
                text, field.index(field.child(path, "searches"), i))
    for i, option in dicts(config.get("options")):
        if not as_str(option.get("name")):
            causes.append(field.required(field.index(field.child(path, "options"), i),
                                         "must not be empty"))
    return causes


def _pod_security_context(ctx: Any, path: str) -> list[Cause]:
    causes = validate_security_context(ctx, path)
    ctx = as_dict(ctx)
    fs_group = as_int(ctx.get("fsGroup"))
    if fs_group is not None and not 0 <= fs_group <= 0xFFFFFFFF:
        causes.append(field.invalid(field.child(path, "fsGroup"), fs_group,
                                    names.inclusive_range_error(0, 0xFFFFFFFF)))
    for i, group in enumerate(as_list(ctx.get("supplementalGroups"))):
        gid = as_int(group)
        if gid is not None and not 0 <= gid <= 0xFFFFFFFF:
            causes.append(field.invalid(field.index(field.child(path, "supplementalGroups"), i),
                                        gid, names.inclusive_range_error(0, 0xFFFFFFFF)))
    return causes


def _named_fields(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for attr in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = as_str(spec.get(attr))
        if value:
            causes += [field.invalid(field.child(path, attr), value, m)
                       for m in names.is_dns1123_subdomain(value)]
    deadline = as_int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        causes.append(field.invalid(field.child(path, "activeDeadlineSeconds"), deadline,
                                    names.inclusive_range_error(1, _MAX_INT32)))
    for attr in ("hostname", "subdomain"):
        value = as_str(spec.get(attr))
        if value:
            causes += names.validate_dns1123_label(value, field.child(path, attr))
    return causes


def validate_pod_spec(spec: Any, path: str, *, is_pod: bool) -> list[Cause]:
    spec = as_dict(spec)
    causes: list[Cause] = []
    grace_path = field.child(path, "terminationGracePeriodSeconds")
    grace = as_int(spec.get("terminationGracePeriodSeconds"))
    if grace is None:
        causes.append(field.required(grace_path))
    volumes, volume_errors = validate_volumes(spec.get("volumes"), field.child(path, "volumes"))
    causes += volume_errors
    causes += _containers(spec, volumes, grace, field.child(path, "containers"))
    causes += _init_containers(spec, volumes, grace, field.child(path, "initContainers"))
    if spec.get("hostNetwork") is True:
        for ci, ctr in dicts(spec.get("containers")):
            for pi, port in dicts(ctr.get("ports")):
                host_port = as_int(port.get("hostPort")) or 0
                if (is_pod or host_port) and host_port != (as_int(port.get("containerPort")) or 0):
                    item = field.index(field.child(field.index(field.child(path, "containers"),
                                                               ci), "ports"), pi)
                    causes.append(field.invalid(field.child(item, "hostPort"), host_port,
                                                "must match `containerPort` when `hostNetwork` "
                                                "is true"))
    causes += _enum(spec.get("restartPolicy"), field.child(path, "restartPolicy"),
                    RESTART_POLICIES)
    causes += _enum(spec.get("dnsPolicy"), field.child(path, "dnsPolicy"), _DNS_POLICIES)
    causes += names.validate_labels(spec.get("nodeSelector"), field.child(path, "nodeSelector"))
    causes += _pod_security_context(spec.get("securityContext"),
                                    field.child(path, "securityContext"))
    causes += _affinity(spec.get("affinity"), field.child(path, "affinity"))
    causes += _dns_config(spec, field.child(path, "dnsConfig"))
    for i, gate in dicts(spec.get("readinessGates")):
        causes += names.validate_qualified_name(
            as_str(gate.get("conditionType")),
            field.child(field.index(field.child(path, "readinessGates"), i), "conditionType"))
    seen_gates: set[str] = set()
    for i, gate in dicts(spec.get("schedulingGates")):
        gate_path, gate_name = field.index(field.child(path, "schedulingGates"), i), as_str(
            gate.get("name"))
        causes += names.validate_qualified_name(gate_name, gate_path)
        if gate_name in seen_gates:
            causes.append(field.duplicate(gate_path, gate_name))
        seen_gates.add(gate_name)
    causes += _named_fields(spec, path)
    causes += validate_tolerations(spec.get("tolerations"), field.child(path, "tolerations"))
    for i, alias in dicts(spec.get("hostAliases")):
        alias_path = field.index(field.child(path, "hostAliases"), i)
        causes += names.is_valid_ip(field.child(alias_path, "ip"), as_str(alias.get("ip")))
        for j, hostname in enumerate(as_list(alias.get("hostnames"))):
            causes += names.validate_dns1123_subdomain(
                as_str(hostname), field.index(field.child(alias_path, "hostnames"), j))
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        causes += _enum(preemption, field.child(path, "preemptionPolicy"),
                        ("PreemptLowerPriority", "Never"))
    if isinstance(spec.get("overhead"), dict):
        causes += validate_resource_requirements({"limits": spec["overhead"]},
                                                 field.child(path, "overhead"))
    os_spec = spec.get("os")
    if isinstance(os_spec, dict):
        os_name = as_str(os_spec.get("name"))
        if not os_name:
            causes.append(field.required(field.child(field.child(path, "os"), "name"),
                                         "cannot be empty"))
        elif os_name not in ("linux", "windows"):
            causes.append(field.not_supported(field.child(path, "os"), os_name,
                                              ("linux", "windows")))
    if is_pod:
        for attr in ("containers", "initContainers"):
            for i, ctr in dicts(spec.get(attr)):
                image = as_str(ctr.get("image"))
                if image != image.strip():
                    causes.append(field.invalid(
                        field.child(field.index(field.child(path, attr), i), "image"), image,
                        "must not have leading or trailing whitespace"))
    return causes


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """``ValidatePodTemplateSpec``: template metadata plus the spec, no ephemeral containers."""
    template = as_dict(template)
    meta = as_dict(template.get("metadata"))
    # Kubernetes reports template metadata at spec.template.labels, without "metadata".
    causes = names.validate_labels(meta.get("labels"), field.child(path, "labels"))
    causes += names.validate_annotations(meta.get("annotations"), field.child(path, "annotations"))
    spec = as_dict(template.get("spec"))
    causes += validate_pod_spec(spec, field.child(path, "spec"), is_pod=False)
    if as_list(spec.get("ephemeralContainers")):
        causes.append(field.forbidden(field.child(field.child(path, "spec"),
                                                  "ephemeralContainers"),
                                      "ephemeral containers not allowed in pod template"))
    return causes
