"""Service validation (``ValidateService`` and ``ValidateServiceUpdate``).

IP and port allocation belong to the API server's allocator, which may run
after validation; so fields the allocator fills (``clusterIPs``,
``healthCheckNodePort``, node ports in range) are checked only for syntax and
consistency when present, never required.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.validation import field, names
from apiserver.validation.containers import validate_protocol
from apiserver.validation.names import validate_port_num_or_name
from apiserver.validation.field import Cause, GoRaw
from apiserver.validation.meta import validate_object_meta
from apiserver.validation.values import as_dict, as_int, as_list, as_str, dicts

__all__ = ["validate_service", "validate_service_update", "cluster_ips", "is_headless"]

_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_AFFINITIES = ("ClientIP", "None")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_MAX_AFFINITY_SECONDS = 86400


def cluster_ips(spec: dict[str, Any]) -> list[str]:
    """The cluster IPs as the strategy would sync them (``clusterIPs`` from ``clusterIP``)."""
    ips = [as_str(ip) for ip in as_list(spec.get("clusterIPs"))]
    if not ips and as_str(spec.get("clusterIP")):
        ips = [as_str(spec.get("clusterIP"))]
    return ips


def is_headless(spec: dict[str, Any]) -> bool:
    return cluster_ips(spec) == ["None"]


def _port(port: dict[str, Any], require_name: bool, seen: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        causes.append(field.required(field.child(path, "name")))
    elif name:
        causes += names.validate_dns1123_label(name, field.child(path, "name"))
        if name in seen:
            causes.append(field.duplicate(field.child(path, "name"), name))
        seen.add(name)
    number = as_int(port.get("port")) or 0
    causes += [field.invalid(field.child(path, "port"), number, m)
               for m in names.is_valid_port_num(number)]
    causes += validate_protocol(port.get("protocol"), field.child(path, "protocol"))
    causes += validate_port_num_or_name(port.get("targetPort"), field.child(path, "targetPort"))
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        causes += names.validate_qualified_name(app_protocol, field.child(path, "appProtocol"))
    node_port = as_int(port.get("nodePort")) or 0
    if not 0 <= node_port <= 65535:
        causes.append(field.invalid(field.child(path, "nodePort"), node_port,
                                    names.inclusive_range_error(0, 65535)))
    return causes


def _go_service_port(protocol: str, number: int) -> GoRaw:
    return GoRaw(f'core.ServicePort{{Name:"", Protocol:{field.go_quote(protocol)}, '
                 f"AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString"
                 '{Type:0, IntVal:0, StrVal:""}, NodePort:0}')


def _ports(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    ports = dicts(spec.get("ports"))
    seen_names: set[str] = set()
    for i, port in ports:
        causes += _port(port, len(ports) > 1, seen_names, field.index(path, i))
    if as_str(spec.get("type")) == "ClusterIP":
        for i, port in ports:
            if as_int(port.get("nodePort")):
                causes.append(field.forbidden(field.child(field.index(path, i), "nodePort"),
                                              "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    for i, port in ports:
        node_port = as_int(port.get("nodePort")) or 0
        if node_port:
            key = (as_str(port.get("protocol")), node_port)
            if key in node_ports:
                causes.append(field.duplicate(field.child(field.index(path, i), "nodePort"),
                                              node_port))
            node_ports.add(key)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in ports:
        key = (as_str(port.get("protocol")), as_int(port.get("port")) or 0)
        if key in seen_ports:
            causes.append(field.duplicate(field.index(path, i), _go_service_port(*key)))
        seen_ports.add(key)
    return causes


def _cluster_ip_fields(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    ips_path = "spec.clusterIPs"
    ips = cluster_ips(spec)
    given = [as_str(ip) for ip in as_list(spec.get("clusterIPs"))]
    cluster_ip = as_str(spec.get("clusterIP"))
    if cluster_ip and given and given[0] != cluster_ip:
        causes.append(field.invalid(ips_path, field.go_strings(given),
                                    "first value must match `clusterIP`"))
    elif not cluster_ip and given:
        causes.append(field.invalid(ips_path, field.go_strings(given),
                                    "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, family in enumerate(as_list(spec.get("ipFamilies"))):
        item = field.index("spec.ipFamilies", i)
        if family not in ("IPv4", "IPv6"):
            causes.append(field.not_supported(item, family, ("IPv4", "IPv6")))
        if family in seen:
            causes.append(field.duplicate(item, family))
        seen.add(as_str(family))
    policy = spec.get("ipFamilyPolicy")
    supported = ("PreferDualStack", "RequireDualStack", "SingleStack")
    if policy is not None and policy not in supported:
        causes.append(field.not_supported("spec.ipFamilyPolicy", policy, supported))
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                causes.append(field.invalid(ips_path, field.go_strings(ips),
                                            "'None' must be the first and only value"))
            continue
        causes += names.is_valid_ip(field.index(ips_path, i), ip)
    if len(ips) > 2:
        causes.append(field.invalid(ips_path, field.go_strings(ips),
                                    "may only hold up to 2 values"))
    return causes


def _non_special_ip(ip: str, path: str) -> list[Cause]:
    address = ipaddress.ip_address(ip)
    if address.is_unspecified:
        return [field.invalid(path, ip, f"may not be unspecified ({ip})")]
    if address.is_loopback:
        return [field.invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if address.is_link_local:
        return [field.invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, "
                              "fe80::/10)")]
    return []


def _type_specific(spec: dict[str, Any], service_type: str) -> list[Cause]:
    causes: list[Cause] = []
    if service_type in ("LoadBalancer", "NodePort") and is_headless(spec):
        causes.append(field.invalid("spec.clusterIPs[0]", "None",
                                    f"may not be set to 'None' for {service_type} services"))
    if service_type == "ExternalName":
        if cluster_ips(spec):
            causes.append(field.forbidden("spec.clusterIPs",
                                          "may not be set for ExternalName services"))
        if as_list(spec.get("ipFamilies")):
            causes.append(field.forbidden("spec.ipFamilies",
                                          "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(field.forbidden("spec.ipFamilyPolicy",
                                          "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            causes += names.validate_dns1123_subdomain(cname, "spec.externalName")
        else:
            causes.append(field.required("spec.externalName"))
    return causes


def _affinity(spec: dict[str, Any]) -> list[Cause]:
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        return [field.required("spec.sessionAffinity")]
    if affinity not in _AFFINITIES:
        return [field.not_supported("spec.sessionAffinity", affinity, _AFFINITIES)]
    config_path = "spec.sessionAffinityConfig"
    config = spec.get("sessionAffinityConfig")
    if affinity == "None":
        if config is not None:
            return [field.forbidden(config_path, "must not be set when session affinity is None")]
        return []
    when = "when session affinity type is ClientIP"
    client_ip = as_dict(config).get("clientIP")
    if not isinstance(config, dict):
        return [field.required(config_path, when)]
    if not isinstance(client_ip, dict):
        return [field.required(field.child(config_path, "clientIP"), when)]
    timeout_path = field.child(field.child(config_path, "clientIP"), "timeoutSeconds")
    timeout = as_int(client_ip.get("timeoutSeconds"))
    if timeout is None:
        return [field.required(timeout_path, when)]
    if not 0 < timeout <= _MAX_AFFINITY_SECONDS:
        return [field.invalid(timeout_path, timeout,
                              f"must be greater than 0 and less than {_MAX_AFFINITY_SECONDS}")]
    return []


def _traffic(spec: dict[str, Any], service_type: str) -> list[Cause]:
    causes: list[Cause] = []
    accessible = service_type in ("LoadBalancer", "NodePort") or (
        service_type == "ClusterIP" and bool(as_list(spec.get("externalIPs"))))
    policy = as_str(spec.get("externalTrafficPolicy"))
    if not accessible:
        if policy:
            causes.append(field.invalid("spec.externalTrafficPolicy", policy,
                                        "may only be set for externally-accessible services"))
    elif not policy:
        causes.append(field.required("spec.externalTrafficPolicy"))
    elif policy not in _TRAFFIC_POLICIES:
        causes.append(field.not_supported("spec.externalTrafficPolicy", policy,
                                          _TRAFFIC_POLICIES))
    health = as_int(spec.get("healthCheckNodePort")) or 0
    if health and not (service_type == "LoadBalancer" and policy == "Local"):
        causes.append(field.invalid("spec.healthCheckNodePort", health, "may only be set when "
                                    "`type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                                    "'Local'"))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and service_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        causes.append(field.required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in _TRAFFIC_POLICIES:
        causes.append(field.not_supported("spec.internalTrafficPolicy", internal,
                                          _TRAFFIC_POLICIES))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        causes.append(field.not_supported("spec.trafficDistribution", distribution,
                                          ("PreferClose",)))
    return causes


def _load_balancer_fields(spec: dict[str, Any], service_type: str) -> list[Cause]:
    causes: list[Cause] = []
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    if ranges:
        if service_type != "LoadBalancer":
            causes.append(field.forbidden("spec.LoadBalancerSourceRanges", only_lb))
        for i, value in enumerate(ranges):
            causes += names.is_valid_cidr(field.index("spec.LoadBalancerSourceRanges", i),
                                          as_str(value).strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and service_type != "LoadBalancer":
        causes.append(field.forbidden("spec.allocateLoadBalancerNodePorts", only_lb))
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(field.required("allocateLoadBalancerNodePorts"))
    lb_class = spec.get("loadBalancerClass")
    if isinstance(lb_class, str):
        if service_type != "LoadBalancer":
            causes.append(field.forbidden("spec.loadBalancerClass", only_lb))
        causes += names.validate_qualified_name(lb_class, "spec.loadBalancerClass")
    return causes


def validate_service(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns1035_label)
    spec = as_dict(obj.get("spec"))
    service_type = as_str(spec.get("type"))
    if not as_list(spec.get("ports")) and not is_headless(spec) and service_type != "ExternalName":
        causes.append(field.required("spec.ports"))
    causes += _type_specific(spec, service_type)
    causes += _ports(spec, "spec.ports")
    if isinstance(spec.get("selector"), dict):
        causes += names.validate_labels(spec["selector"], "spec.selector")
    causes += _affinity(spec)
    if service_type != "ExternalName":
        causes += _cluster_ip_fields(spec)
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        item = field.index("spec.externalIPs", i)
        errs = names.is_valid_ip(item, as_str(ip))
        causes += errs or _non_special_ip(as_str(ip), item)
    if not service_type:
        causes.append(field.required("spec.type"))
    elif service_type not in _TYPES:
        causes.append(field.not_supported("spec.type", service_type, _TYPES))
    causes += _load_balancer_fields(spec, service_type)
    causes += _traffic(spec, service_type)
    return causes


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if "ExternalName" not in (as_str(new_spec.get("type")), as_str(old_spec.get("type"))):
        new_ips, old_ips = cluster_ips(new_spec), cluster_ips(old_spec)
        if not (new_ips == ["None"] and old_ips == ["None"]):
            for i, ip in enumerate(old_ips):
                if i < len(new_ips) and new_ips[i] != ip and (i > 0 or new_ips[0]):
                    causes.append(field.invalid(field.index("spec.clusterIPs", i),
                                                field.go_strings(new_ips),
                                                "may not change once set"))
    return causes + validate_service(new)
