"""Validation for networking and discovery kinds: Ingress, IngressClass, EndpointSlice,
and the coordination Lease (too small for a module of its own).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from apiserver.validation import field, names
from apiserver.validation.containers import PROTOCOLS
from apiserver.validation.field import Cause
from apiserver.validation.meta import immutable, validate_object_meta
from apiserver.validation.values import as_dict, as_int, as_list, as_str, dicts, nonnegative

__all__ = [
    "validate_ingress",
    "validate_ingress_update",
    "validate_ingress_class",
    "validate_ingress_class_update",
    "validate_endpoint_slice",
    "validate_endpoint_slice_update",
    "validate_lease",
]

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES = ("/..", "/.")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile("^" + _HTTP_PATH_FMT + "$")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _host(host: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if _is_ip(host):
        causes.append(field.invalid(path, host, "must be a DNS name, not an IP address"))
    check = names.is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
    return causes + [field.invalid(path, host, m) for m in check(host)]


def _typed_reference(ref: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for attr in ("kind", "name"):
        if not as_str(ref.get(attr)):
            causes.append(field.required(field.child(path, attr)))
    api_group = ref.get("apiGroup")
    if isinstance(api_group, str) and api_group:
        causes += names.validate_dns1123_subdomain(api_group, field.child(path, "apiGroup"))
    return causes


def _backend(backend: dict[str, Any], path: str) -> list[Cause]:
    resource, service = backend.get("resource"), backend.get("service")
    if isinstance(resource, dict) and isinstance(service, dict):
        return [field.invalid(path, "", "cannot set both resource and service backends")]
    if isinstance(resource, dict):
        return _typed_reference(resource, field.child(path, "resource"))
    if not isinstance(service, dict):
        return [field.invalid(path, "", "resource or service backend is required")]
    causes: list[Cause] = []
    svc_path = field.child(path, "service")
    name = as_str(service.get("name"))
    if not name:
        causes.append(field.required(field.child(svc_path, "name")))
    else:
        causes += [field.invalid(field.child(svc_path, "name"), name, m)
                   for m in names.name_is_dns1035_label(name, False)]
    port = as_dict(service.get("port"))
    port_name, port_number = as_str(port.get("name")), as_int(port.get("number")) or 0
    port_path = field.child(svc_path, "port")
    if port_name and port_number:
        causes.append(field.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes += [field.invalid(field.child(port_path, "name"), port_name, m)
                   for m in names.is_valid_port_name(port_name)]
    elif port_number:
        causes += [field.invalid(field.child(port_path, "number"), port_number, m)
                   for m in names.is_valid_port_num(port_number)]
    else:
        causes.append(field.required(path, "port name or number is required"))
    return causes


def _http_path(item: dict[str, Any], path: str) -> list[Cause]:
    path_type = item.get("pathType")
    if path_type is None:
        return [field.required(field.child(path, "pathType"), "pathType must be specified")]
    text = as_str(item.get("path"))
    text_path = field.child(path, "path")
    causes: list[Cause] = []
    if path_type in ("Exact", "Prefix"):
        if not text.startswith("/"):
            causes.append(field.invalid(text_path, text, "must be an absolute path"))
        if text:
            causes += [field.invalid(text_path, text, f"must not contain '{seq}'")
                       for seq in _INVALID_SEQUENCES if seq in text]
            causes += [field.invalid(text_path, text, f"cannot end with '{suffix}'")
                       for suffix in _INVALID_SUFFIXES if text.endswith(suffix)]
    elif path_type == "ImplementationSpecific":
        if text and not text.startswith("/"):
            causes.append(field.invalid(text_path, text, "must be an absolute path"))
    else:
        causes.append(field.not_supported(field.child(path, "pathType"), path_type, _PATH_TYPES))
    return causes + _backend(as_dict(item.get("backend")), field.child(path, "backend"))


def _ingress_spec(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    rules = as_list(spec.get("rules"))
    if not rules and not isinstance(spec.get("defaultBackend"), dict):
        causes.append(field.invalid("spec", field.GoRaw("[]networking.IngressRule(nil)"),
                                    "either `defaultBackend` or `rules` must be specified"))
    if isinstance(spec.get("defaultBackend"), dict):
        causes += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in dicts(rules):
        rule_path = field.index("spec.rules", i)
        host = as_str(rule.get("host"))
        if host:
            causes += _host(host, field.child(rule_path, "host"))
        http = rule.get("http")
        if isinstance(http, dict):
            http_path = field.child(rule_path, "http")
            paths = dicts(http.get("paths"))
            if not paths:
                causes.append(field.required(field.child(http_path, "paths")))
            for j, item in paths:
                causes += _http_path(item, field.index(field.child(http_path, "paths"), j))
    for i, tls in dicts(spec.get("tls")):
        tls_path = field.index("spec.tls", i)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            text = as_str(host)
            check = names.is_wildcard_dns1123_subdomain if "*" in text else \
                names.is_dns1123_subdomain
            causes += [field.invalid(field.index(field.child(tls_path, "hosts"), j), text, m)
                       for m in check(text)]
        secret = as_str(tls.get("secretName"))
        if secret:
            causes += [field.invalid(field.child(tls_path, "secretName"), secret, m)
                       for m in names.is_dns1123_subdomain(secret)]
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        causes += [field.invalid("spec.ingressClassName", class_name, m)
                   for m in names.is_dns1123_subdomain(class_name)]
    return causes


def validate_ingress(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    return causes + _ingress_spec(as_dict(obj.get("spec")))


def validate_ingress_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_ingress(new)


def _domain_prefixed_path(value: str, path: str) -> list[Cause]:
    if not value:
        return [field.required(path)]
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        return [field.invalid(path, value,
                              'must be a domain-prefixed path (such as "acme.io/foo")')]
    causes = [field.invalid(path, host, m) for m in names.is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.match(rest):
        causes.append(field.invalid(path, rest, names.regex_error("Invalid path",
                                                                  _HTTP_PATH_FMT)))
    return causes


def validate_ingress_class(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=False,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    controller = as_str(spec.get("controller"))
    if len(controller) > 250:
        causes.append(field.too_long("spec.controller", 250))
    causes += _domain_prefixed_path(controller, "spec.controller")
    params = spec.get("parameters")
    if isinstance(params, dict):
        causes += _typed_reference(params, "spec.parameters")
        scope = params.get("scope")
        if scope is not None and scope not in ("Cluster", "Namespace"):
            causes.append(field.not_supported("spec.parameters.scope", scope,
                                              ("Cluster", "Namespace")))
    return causes


def validate_ingress_class_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    controller = as_str(as_dict(new.get("spec")).get("controller"))
    old_controller = as_str(as_dict(old.get("spec")).get("controller"))
    return validate_ingress_class(new) + immutable(controller, old_controller, "spec.controller")


_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _slice_address(address: str, address_type: str, path: str) -> list[Cause]:
    if address_type == "FQDN":
        return names.validate_dns1123_subdomain(address, path)
    version: int
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        version = 0
    if address_type == "IPv4" and version != 4:
        return [field.invalid(path, address, "must be a valid IPv4 address")]
    if address_type == "IPv6" and version != 6:
        return [field.invalid(path, address, "must be a valid IPv6 address")]
    return []


def validate_endpoint_slice(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    address_type = as_str(obj.get("addressType"))
    if not address_type:
        causes.append(field.required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        causes.append(field.not_supported("addressType", address_type, _ADDRESS_TYPES))
    for i, endpoint in dicts(obj.get("endpoints")):
        item = field.index("endpoints", i)
        addresses = as_list(endpoint.get("addresses"))
        if not addresses:
            causes.append(field.required(field.child(item, "addresses"),
                                         "must contain at least 1 address"))
        elif len(addresses) > 100:
            causes.append({"reason": "FieldValueTooMany", "field": field.child(item, "addresses"),
                           "message": f"Too many: {len(addresses)}: must have at most 100 items"})
        for j, address in enumerate(addresses):
            if address_type in _ADDRESS_TYPES:
                causes += _slice_address(as_str(address), address_type,
                                         field.index(field.child(item, "addresses"), j))
        hostname = endpoint.get("hostname")
        if isinstance(hostname, str):
            causes += names.validate_dns1123_label(hostname, field.child(item, "hostname"))
    seen: set[str] = set()
    for i, port in dicts(obj.get("ports")):
        item = field.index("ports", i)
        name = as_str(port.get("name"))
        if name:
            causes += names.validate_dns1123_label(name, field.child(item, "name"))
        if name in seen:
            causes.append(field.duplicate(field.child(item, "name"), name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None or protocol == "":
            causes.append(field.required(field.child(item, "protocol")))
        elif protocol not in PROTOCOLS:
            causes.append(field.not_supported(field.child(item, "protocol"), protocol, PROTOCOLS))
        number = as_int(port.get("port"))
        if number is not None:
            causes += [field.invalid(field.child(item, "port"), number, m)
                       for m in names.is_valid_port_num(number)]
    return causes


def validate_endpoint_slice_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_endpoint_slice(new) + immutable(
        as_str(new.get("addressType")), as_str(old.get("addressType")), "addressType")


def validate_lease(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    duration = as_int(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        causes.append(field.invalid("spec.leaseDurationSeconds", duration,
                                    "must be greater than 0"))
    return causes + nonnegative(spec.get("leaseTransitions"), "spec.leaseTransitions")
