"""Service validation on create and update."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.defaults import apply_defaults
from apiserver.validation import validate
from tests.apiserver.validation.objects import fields, lines, resource, stored

SVC = resource("services")


def service(**spec: Any) -> dict[str, Any]:
    obj = stored("services")
    obj["spec"].update(spec)
    return obj


def defaulted(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    obj = {"metadata": {"name": name, "namespace": "default"}, "spec": spec}
    apply_defaults(SVC, obj)
    return obj


def test_name_is_a_dns1035_label() -> None:
    obj = service()
    obj["metadata"]["name"] = "1web"
    assert fields(validate(SVC, obj)) == ["metadata.name"]
    assert "a DNS-1035 label must consist" in validate(SVC, obj)[0]["message"]


def test_ports_required_unless_headless_or_external_name() -> None:
    assert lines(validate(SVC, defaulted({}))) == ["spec.ports: Required value"]
    assert validate(SVC, defaulted({"clusterIP": "None"})) == []
    assert validate(SVC, defaulted({"type": "ExternalName",
                                    "externalName": "db.example.com"})) == []


def test_external_name_required_and_no_cluster_ip() -> None:
    obj = defaulted({"type": "ExternalName", "clusterIP": "10.0.0.1"})
    assert lines(validate(SVC, obj)) == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        "spec.externalName: Required value",
    ]


def test_port_rules() -> None:
    obj = defaulted({"ports": [{"port": 80}, {"port": 0, "protocol": "HTTP", "name": "Web"},
                               {"port": 80, "name": "dup"}]})
    assert lines(validate(SVC, obj)) == [
        "spec.ports[0].name: Required value",
        'spec.ports[1].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of '
        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", '
        '"UDP"',
        "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
        'StrVal:""}, NodePort:0}',
    ]


def test_type_and_node_port_rules() -> None:
    assert lines(validate(SVC, service(type="Magic"))) == [
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']
    obj = service()
    obj["spec"]["ports"][0]["nodePort"] = 30080
    assert lines(validate(SVC, obj)) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    node_port = defaulted({"type": "NodePort", "ports": [{"port": 80, "nodePort": 70000}]})
    assert lines(validate(SVC, node_port)) == [
        "spec.ports[0].nodePort: Invalid value: 70000: must be between 0 and 65535, inclusive"]


def test_cluster_ip_syntax() -> None:
    assert validate(SVC, service(clusterIP="10.96.0.10")) == []
    assert lines(validate(SVC, service(clusterIP="10.96.0.999"))) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.999": must be a valid IP address, (e.g. '
        "10.9.8.7 or 2001:db8::ffff)"]
    assert lines(validate(SVC, defaulted({"type": "NodePort", "clusterIP": "None",
                                          "ports": [{"port": 80}]}))) == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort "
        "services"]


def test_external_traffic_policy_only_when_accessible() -> None:
    assert lines(validate(SVC, service(externalTrafficPolicy="Local"))) == [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
        "externally-accessible services"]
    assert validate(SVC, defaulted({"type": "LoadBalancer", "ports": [{"port": 80}]})) == []


def test_session_affinity() -> None:
    assert lines(validate(SVC, service(sessionAffinity="Sticky"))) == [
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", '
        '"None"']
    assert validate(SVC, defaulted({"sessionAffinity": "ClientIP",
                                    "ports": [{"port": 80}]})) == []


def test_cluster_ip_immutable_except_from_empty() -> None:
    old = service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    new = copy.deepcopy(old)
    new["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"])
    assert lines(validate(SVC, new, old)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']
    empty_old = service()
    assert validate(SVC, new, empty_old) == []
    unset = copy.deepcopy(old)
    unset["spec"].pop("clusterIP")
    unset["spec"].pop("clusterIPs")
    assert validate(SVC, unset, old) == []
