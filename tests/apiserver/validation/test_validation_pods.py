"""Pod validation: spec rules on create and the frozen-spec rules on update."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.validation import validate
from tests.apiserver.validation.objects import fields, lines, resource, stored

POD = resource("pods")


def pod() -> dict[str, Any]:
    return stored("pods")


def container(obj: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return obj["spec"]["containers"][i]


def test_containers_required() -> None:
    obj = pod()
    obj["spec"]["containers"] = []
    assert lines(validate(POD, obj)) == ["spec.containers: Required value"]


def test_container_name_and_image() -> None:
    obj = pod()
    container(obj)["name"] = "Web_1"
    del container(obj)["image"]
    assert fields(validate(POD, obj)) == ["spec.containers[0].name", "spec.containers[0].image"]
    assert lines(validate(POD, obj))[1] == "spec.containers[0].image: Required value"


def test_container_names_unique_across_init_and_app() -> None:
    obj = pod()
    obj["spec"]["containers"].append(copy.deepcopy(container(obj)))
    obj["spec"]["initContainers"] = [copy.deepcopy(container(obj))]
    obj["spec"]["containers"][1]["ports"] = []
    assert lines(validate(POD, obj)) == [
        'spec.containers[1].name: Duplicate value: "web"',
        'spec.initContainers[0].name: Duplicate value: "web"',
    ]


def test_image_pull_policy_enum() -> None:
    obj = pod()
    container(obj)["imagePullPolicy"] = "Foo"
    assert lines(validate(POD, obj)) == [
        'spec.containers[0].imagePullPolicy: Unsupported value: "Foo": supported values: '
        '"Always", "IfNotPresent", "Never"']


def test_ports() -> None:
    obj = pod()
    container(obj)["ports"] = [
        {"containerPort": 70000, "protocol": "TCP"},
        {"containerPort": 80, "protocol": "HTTP", "name": "8080"},
        {"protocol": "TCP"},
    ]
    assert lines(validate(POD, obj)) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
        "65535, inclusive",
        'spec.containers[0].ports[1].name: Invalid value: "8080": must contain at least one '
        "letter (a-z)",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: '
        '"SCTP", "TCP", "UDP"',
        "spec.containers[0].ports[2].containerPort: Required value",
    ]


def test_resources_requests_within_limits() -> None:
    obj = pod()
    container(obj)["resources"] = {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}
    assert lines(validate(POD, obj)) == [
        'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal '
        "to cpu limit of 500m"]
    container(obj)["resources"] = {"requests": {"memory": "-1Gi", "gpu": "1"}}
    assert lines(validate(POD, obj)) == [
        'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
        "resource type or fully qualified",
        'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
        "resource for containers",
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater '
        "than or equal to 0",
    ]


def test_extended_resources_need_equal_limits() -> None:
    obj = pod()
    container(obj)["resources"] = {"requests": {"example.com/gpu": "1"}}
    assert lines(validate(POD, obj)) == [
        "spec.containers[0].resources.limits: Required value: Limit must be set for non "
        "overcommitable resources"]


def test_volumes_and_mounts() -> None:
    obj = pod()
    obj["spec"]["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {"name": "data", "emptyDir": {}},
        {"name": "both", "emptyDir": {}, "hostPath": {"path": "/x", "type": ""}},
        {"name": "cm", "configMap": {"name": "", "defaultMode": 1000}},
    ]
    container(obj)["volumeMounts"] = [{"name": "missing", "mountPath": "/m"},
                                      {"name": "data", "mountPath": "/m"}]
    assert lines(validate(POD, obj)) == [
        'spec.volumes[1].name: Duplicate value: "data"',
        "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[3].configMap.name: Required value",
        "spec.volumes[3].configMap.defaultMode: Invalid value: 1000: must be a number between 0 "
        "and 0777 (octal), both inclusive",
        'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/m": must be unique',
    ]


def test_probes_need_one_handler() -> None:
    obj = pod()
    container(obj)["livenessProbe"] = {"timeoutSeconds": 1, "periodSeconds": 10,
                                       "successThreshold": 2, "failureThreshold": 3}
    container(obj)["readinessProbe"] = {
        "exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "timeoutSeconds": 1,
        "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert lines(validate(POD, obj)) == [
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 "
        "handler type",
    ]


def test_init_containers_may_not_probe_without_restart_always() -> None:
    obj = pod()
    init = copy.deepcopy(container(obj))
    init.update(name="init", ports=[], startupProbe={"exec": {"command": ["x"]}})
    obj["spec"]["initContainers"] = [init]
    assert lines(validate(POD, obj)) == [
        "spec.initContainers[0].startupProbe: Forbidden: may not be set for init containers "
        "without restartPolicy=Always"]
    init["restartPolicy"] = "Always"
    init["startupProbe"].update(timeoutSeconds=1, periodSeconds=10, successThreshold=1,
                                failureThreshold=3)
    assert validate(POD, obj) == []


def test_env_and_env_from() -> None:
    obj = pod()
    container(obj)["env"] = [
        {"name": ""},
        {"name": "A", "value": "x", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                               "fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.foo"}}},
    ]
    container(obj)["envFrom"] = [{}]
    assert lines(validate(POD, obj)) == [
        "spec.containers[0].env[0].name: Required value",
        'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when '
        "`value` is not empty",
        'spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Invalid value: "spec.foo": '
        "error converting fieldPath: field label not supported: spec.foo",
        'spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or '
        "`secretRef`",
    ]


def test_pod_level_enums_and_names() -> None:
    obj = pod()
    obj["spec"].update(restartPolicy="Sometimes", dnsPolicy="", nodeName="Node_1",
                       activeDeadlineSeconds=0, nodeSelector={"disk": "fast ssd"})
    assert fields(validate(POD, obj)) == [
        "spec.restartPolicy", "spec.dnsPolicy", "spec.nodeSelector", "spec.nodeName",
        "spec.activeDeadlineSeconds"]
    assert lines(validate(POD, obj))[0] == (
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"')


def test_tolerations() -> None:
    obj = pod()
    obj["spec"]["tolerations"] = [
        {"key": "", "operator": "Equal", "value": "x"},
        {"key": "k", "operator": "Exists", "value": "v"},
        {"key": "k", "operator": "Maybe", "effect": "Sometimes"},
        {"key": "k", "operator": "Exists", "tolerationSeconds": 5, "effect": "NoSchedule"},
    ]
    assert lines(validate(POD, obj)) == [
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
        '`key` is empty, which means "match all values and all keys"',
        'spec.tolerations[1].operator: Invalid value: "v": value must be empty when `operator` '
        "is 'Exists'",
        'spec.tolerations[2].operator: Unsupported value: "Maybe": supported values: "Equal", '
        '"Exists"',
        'spec.tolerations[2].effect: Unsupported value: "Sometimes": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"',
        'spec.tolerations[3].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' '
        "when `tolerationSeconds` is set",
    ]


def test_leading_whitespace_in_image_is_pod_only() -> None:
    obj = pod()
    container(obj)["image"] = " nginx"
    assert lines(validate(POD, obj)) == [
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
        "whitespace"]


def test_update_may_change_image_and_add_tolerations() -> None:
    old = pod()
    new = copy.deepcopy(old)
    container(new)["image"] = "nginx:1.26"
    new["spec"]["tolerations"].append({"key": "x", "operator": "Exists"})
    new["spec"]["activeDeadlineSeconds"] = 100
    assert validate(POD, new, old) == []


def test_update_may_not_change_other_fields() -> None:
    old = pod()
    new = copy.deepcopy(old)
    container(new)["ports"][0]["containerPort"] = 8080
    causes = validate(POD, new, old)
    assert fields(causes) == ["spec"]
    assert causes[0]["reason"] == "FieldValueForbidden"
    message = causes[0]["message"]
    assert message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)\n")
    assert "- \tcontainers[0].ports[0].containerPort: 80" in message
    assert "+ \tcontainers[0].ports[0].containerPort: 8080" in message


def test_update_zero_values_are_not_changes() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["hostNetwork"] = False
    new["spec"]["nodeSelector"] = {}
    assert validate(POD, new, old) == []


def test_update_container_count_and_tolerations() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "x", "image": "y"})
    assert lines(validate(POD, new, old))[-1] == \
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    new = copy.deepcopy(old)
    new["spec"]["tolerations"] = new["spec"]["tolerations"][1:]
    assert lines(validate(POD, new, old)) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"]


def test_update_active_deadline_may_only_shrink() -> None:
    old = pod()
    old["spec"]["activeDeadlineSeconds"] = 10
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 20
    assert lines(validate(POD, new, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous "
        "value"]


def test_update_metadata_name_immutable() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "other"
    assert lines(validate(POD, new, old)) == [
        'metadata.name: Invalid value: "other": field is immutable']
