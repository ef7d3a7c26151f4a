"""Validation of metadata and the smaller kinds: namespaces, nodes, config, storage,
networking, discovery, coordination and events."""

from __future__ import annotations

import base64
import copy
from typing import Any

from apiserver.validation import validate
from apiserver.validation.meta import selector_matches
from tests.apiserver.validation.objects import fields, lines, resource, stored


def test_name_required_unless_generate_name() -> None:
    obj = stored("configmaps")
    del obj["metadata"]["name"]
    assert lines(validate(resource("configmaps"), obj)) == [
        "metadata.name: Required value: name or generateName is required"]
    obj["metadata"]["generateName"] = "conf-"
    assert validate(resource("configmaps"), obj) == []


def test_namespace_rules_by_scope() -> None:
    obj = stored("configmaps")
    del obj["metadata"]["namespace"]
    assert lines(validate(resource("configmaps"), obj)) == ["metadata.namespace: Required value"]
    node = stored("nodes")
    node["metadata"]["namespace"] = "default"
    assert lines(validate(resource("nodes"), node)) == [
        "metadata.namespace: Forbidden: not allowed on this type"]


def test_metadata_labels_finalizers_owners() -> None:
    obj = stored("configmaps")
    obj["metadata"].update(
        labels={"app": "x" * 64},
        finalizers=["custom", "example.com/cleanup"],
        ownerReferences=[{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}],
    )
    assert fields(validate(resource("configmaps"), obj)) == [
        "metadata.labels", "metadata.ownerReferences", "metadata.finalizers[0]"]
    assert lines(validate(resource("configmaps"), obj))[2] == (
        'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer '
        "name nor is it fully qualified")


def test_no_new_finalizers_while_deleting() -> None:
    old = stored("configmaps")
    old["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["example.com/late"]
    assert lines(validate(resource("configmaps"), new, old)) == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being '
        'deleted, found new finalizers []string{"example.com/late"}']


def test_selector_matching() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selector_matches({"matchLabels": {"app": "web"}}, labels) is True
    assert selector_matches({"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["front"]},
        {"key": "x", "operator": "DoesNotExist"}]}, labels) is True
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                   "values": ["front"]}]}, labels) is False
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "Near"}]},
                            labels) is None


def test_namespace_name_is_a_label() -> None:
    obj = stored("namespaces")
    obj["metadata"]["name"] = "team.a"
    assert lines(validate(resource("namespaces"), obj)) == [
        'metadata.name: Invalid value: "team.a": must not contain dots']
    obj = stored("namespaces")
    obj["spec"]["finalizers"] = ["custom"]
    assert fields(validate(resource("namespaces"), obj)) == ["spec.finalizers"]


def test_config_map_keys_and_size() -> None:
    cm = resource("configmaps")
    obj = stored("configmaps")
    obj["data"]["bad/key"] = "x"
    obj["binaryData"] = {"app.properties": base64.b64encode(b"x").decode()}
    assert fields(validate(cm, obj)) == ["data[app.properties]", "data[bad/key]"]
    big = stored("configmaps")
    big["data"] = {"big": "x" * (1024 * 1024 + 1)}
    assert lines(validate(cm, big)) == [": Too long: must have at most 1048576 bytes"]


def test_immutable_config_map() -> None:
    cm = resource("configmaps")
    old = stored("configmaps")
    old["immutable"] = True
    new = copy.deepcopy(old)
    new["data"]["app.properties"] = "changed"
    assert lines(validate(cm, new, old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"]


def test_secret_type_rules() -> None:
    secret = resource("secrets")
    obj = stored("secrets")
    obj["type"] = "kubernetes.io/tls"
    assert lines(validate(secret, obj)) == ["data[tls.crt]: Required value",
                                            "data[tls.key]: Required value"]
    old = stored("secrets")
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"]["username"] = "dQ=="
    assert lines(validate(secret, new, old)) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable']


def test_node_taints_and_resources() -> None:
    node = stored("nodes")
    node["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                              {"key": "dedicated", "value": "x", "effect": "NoSchedule"},
                              {"key": "k", "effect": ""}]
    node["status"]["capacity"]["cpu"] = "-1"
    assert fields(validate(resource("nodes"), node)) == [
        "metadata.taints[1]", "metadata.taints[2].effect", "status.capacity.cpu"]
    dup = validate(resource("nodes"), node)[0]
    assert dup["message"].endswith(": taints must be unique by key and effect pair")


def test_node_pod_cidr_set_once() -> None:
    old = stored("nodes")
    old["spec"]["podCIDRs"] = ["10.244.1.0/24"]
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.244.2.0/24"]
    assert lines(validate(resource("nodes"), new, old)) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']


def test_pvc_rules() -> None:
    pvc = resource("persistentvolumeclaims")
    obj = stored("persistentvolumeclaims")
    obj["spec"]["accessModes"] = []
    obj["spec"]["resources"] = {}
    assert lines(validate(pvc, obj)) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]
    old = stored("persistentvolumeclaims")
    grown = copy.deepcopy(old)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert fields(validate(pvc, grown, old)) == ["spec"]
    old["status"]["phase"] = grown["status"]["phase"] = "Bound"
    assert validate(pvc, grown, old) == []


def test_pv_rules() -> None:
    pv = resource("persistentvolumes")
    obj = stored("persistentvolumes")
    obj["spec"]["nfs"] = {"server": "nfs", "path": "/export"}
    obj["spec"]["persistentVolumeReclaimPolicy"] = "Keep"
    assert lines(validate(pv, obj)) == [
        'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: '
        '"Delete", "Recycle", "Retain"',
        "spec.nfs: Forbidden: may not specify more than 1 volume type",
    ]
    old = stored("persistentvolumes")
    moved = copy.deepcopy(old)
    moved["spec"]["hostPath"]["path"] = "/elsewhere"
    assert fields(validate(pv, moved, old)) == ["spec.persistentvolumesource"]


def ingress(**spec: Any) -> dict[str, Any]:
    obj = stored("ingresses")
    obj["spec"].update(spec)
    return obj


def test_ingress_rules() -> None:
    ing = resource("ingresses")
    assert lines(validate(ing, ingress(rules=[]))) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` "
        "must be specified"]
    bad = ingress()
    rule = bad["spec"]["rules"][0]
    rule["host"] = "10.0.0.1"
    rule["http"]["paths"][0].update(path="api", pathType="Prefix")
    rule["http"]["paths"].append({"path": "/x", "backend": {"service": {"name": "web"}}})
    assert lines(validate(ing, bad)) == [
        'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
        'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
        "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
    ]
    wildcard = ingress()
    wildcard["spec"]["rules"][0]["host"] = "*.example.com"
    wildcard["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {}
    assert lines(validate(ing, wildcard)) == [
        "spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]


def test_ingress_class_controller() -> None:
    cls = resource("ingressclasses")
    obj = {"metadata": {"name": "nginx"}, "spec": {"controller": "nginx"}}
    assert lines(validate(cls, obj)) == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as '
        '"acme.io/foo")']
    obj["spec"]["controller"] = "k8s.io/ingress-nginx"
    assert validate(cls, obj) == []


def test_endpoint_slice() -> None:
    eps = resource("endpointslices")
    obj = stored("endpointslices")
    obj["endpoints"][0]["addresses"] = ["fd00::1"]
    obj["ports"][0]["protocol"] = "ICMP"
    assert lines(validate(eps, obj)) == [
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
        'ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]
    old = stored("endpointslices")
    new = copy.deepcopy(old)
    new["addressType"] = "FQDN"
    new["endpoints"][0]["addresses"] = ["web.example.com"]
    assert fields(validate(eps, new, old)) == ["addressType"]


def test_lease_durations() -> None:
    obj = stored("leases")
    obj["spec"].update(leaseDurationSeconds=0, leaseTransitions=-1)
    assert lines(validate(resource("leases"), obj)) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]


def test_storage_class() -> None:
    sc = resource("storageclasses")
    obj = {"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path",
           "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
    assert validate(sc, obj) == []
    new = copy.deepcopy(obj)
    new["provisioner"] = "other.io/x"
    assert lines(validate(sc, new, obj)) == [
        "provisioner: Forbidden: updates to provisioner are forbidden."]


def test_core_events_need_an_involved_object() -> None:
    ev = resource("events")
    obj = {"metadata": {"name": "web.1", "namespace": "default"}, "reason": "Started"}
    assert lines(validate(ev, obj)) == ["involvedObject: Required value"]
    obj["involvedObject"] = {"kind": "Pod", "name": "web", "namespace": "other"}
    assert lines(validate(ev, obj)) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    obj["involvedObject"]["namespace"] = "default"
    assert validate(ev, obj) == []
    obj.update(eventTime="2025-01-01T00:00:00.000000Z", reportingComponent="k8py.io/kubelet",
               reportingInstance="node-1", action="Started")
    assert validate(ev, obj) == []
    del obj["reportingComponent"]
    assert set(fields(validate(ev, obj))) == {"reportingComponent"}


def test_events_v1_need_reporting_fields() -> None:
    ev = resource("events.events.k8s.io")
    assert ev.group == "events.k8s.io"
    obj = {"metadata": {"name": "e", "namespace": "default"}, "type": "Normal",
           "eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "k8py.io/kubelet",
           "reportingInstance": "node-1", "action": "Pulling", "reason": "Pulling"}
    assert validate(ev, obj) == []
    del obj["reportingController"]
    obj["type"] = "Odd"
    assert sorted(set(fields(validate(ev, obj)))) == ["reportingController", "type"]


def test_kinds_without_rules_still_check_metadata() -> None:
    sa = resource("serviceaccounts")
    assert lines(validate(sa, {"metadata": {"name": "Bad Name", "namespace": "default"}}))[0] \
        .startswith('metadata.name: Invalid value: "Bad Name": a lowercase RFC 1123 subdomain')
    old = {"metadata": {"name": "robot", "namespace": "default"}}
    renamed = {"metadata": {"name": "robot2", "namespace": "default"}}
    assert fields(validate(sa, renamed, old)) == ["metadata.name"]
