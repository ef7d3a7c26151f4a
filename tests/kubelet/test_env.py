"""Container environments: expansion, downward API values, ConfigMap and Secret sources."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelet.env import (
    ConfigError, container_env, expand, field_value, resource_value, service_env,
)
from tests.kubelet.fakes import FakeObjects

POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                 "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "hi"}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "builder"},
}


@pytest.mark.parametrize("text,expected", [
    ("$(A)-$(B)", "1-2"), ("$$(A)", "$(A)"), ("$(MISSING)", "$(MISSING)"), ("$$", "$"),
    ("$(A", "$(A"), ("cost: $5", "cost: $5"), ("end$", "end$"), ("", ""),
])
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "2"}) == expected


def test_field_values() -> None:
    assert field_value(POD, "metadata.name", "10.0.0.2", "192.0.2.1") == "web-1"
    assert field_value(POD, "metadata.labels['app']", "", "") == "web"
    assert field_value(POD, "metadata.annotations['note']", "", "") == "hi"
    assert field_value(POD, "spec.serviceAccountName", "", "") == "builder"
    assert field_value(POD, "status.podIP", "10.0.0.2", "192.0.2.1") == "10.0.0.2"
    assert field_value(POD, "status.hostIP", "10.0.0.2", "192.0.2.1") == "192.0.2.1"
    assert field_value(POD, "metadata.labels", "", "") == 'app="web"\ntier="front"'
    with pytest.raises(ConfigError):
        field_value(POD, "spec.containers", "", "")


def test_resource_values_round_up_by_divisor_and_default_to_the_node() -> None:
    container = {"resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}
    node = {"cpu": "4", "memory": "8Gi"}
    assert resource_value(container, {"resource": "requests.cpu"}, node) == "1"
    assert resource_value(container, {"resource": "requests.cpu", "divisor": "1m"}, node) == "250"
    assert resource_value(container, {"resource": "limits.memory", "divisor": "1Mi"}, node) == "64"
    assert resource_value(container, {"resource": "limits.cpu"}, node) == "4"
    with pytest.raises(ConfigError):
        resource_value(container, {"resource": "limits.gpu"}, node)


async def test_environment_layers_in_order() -> None:
    objects = FakeObjects()
    objects.add("configmaps", "shop", "cfg", data={"color": "blue", "bad key": "x", "A": "cm"})
    objects.add("secrets", "shop", "sec", data={"pw": base64.b64encode(b"hunter2").decode()})
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}},
                    {"secretRef": {"name": "sec"}, "prefix": "S_"},
                    {"configMapRef": {"name": "absent", "optional": True}}],
        "env": [
            {"name": "A", "value": "plain"},
            {"name": "B", "value": "$(A)+$(color)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope",
                                                               "optional": True}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        ]}
    env = await container_env(POD, container, objects, pod_ip="10.0.0.2", host_ip="192.0.2.1",
                              allocatable={"memory": "1Gi"})
    assert env == {"color": "blue", "A": "plain", "S_pw": "hunter2", "B": "plain+blue",
                   "PW": "hunter2", "NODE": "node-1", "IP": "10.0.0.2", "MEM": str(1 << 30)}
    assert "bad key" not in env and "OPT" not in env


@pytest.mark.parametrize("source,message", [
    ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, 'configmap "cfg" not found'),
    ({"secretKeyRef": {"name": "sec", "key": "k"}}, 'secret "sec" not found'),
])
async def test_missing_sources_are_config_errors(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        await container_env(POD, {"env": [{"name": "X", "valueFrom": source}]}, FakeObjects(),
                            pod_ip="", host_ip="", allocatable={})


async def test_missing_key_names_the_object() -> None:
    objects = FakeObjects()
    objects.add("configmaps", "shop", "cfg", data={})
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]
    with pytest.raises(ConfigError, match="couldn't find key k in ConfigMap shop/cfg"):
        await container_env(POD, {"env": env}, objects, pod_ip="", host_ip="", allocatable={})


def test_service_variables() -> None:
    services = [
        {"metadata": {"name": "kubernetes"},
         "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                       "protocol": "TCP"}]}},
        {"metadata": {"name": "my-db"},
         "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 5432},
                                                      {"name": "metrics", "port": 9187,
                                                       "protocol": "UDP"}]}},
        {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
    ]
    env = service_env(services)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
    assert env["MY_DB_SERVICE_PORT"] == "5432" and env["MY_DB_PORT"] == "tcp://10.96.0.9:5432"
    assert env["MY_DB_SERVICE_PORT_METRICS"] == "9187"
    assert env["MY_DB_PORT_9187_UDP"] == "udp://10.96.0.9:9187"
    assert env["MY_DB_PORT_9187_UDP_PROTO"] == "udp"
    assert not any(k.startswith("HEADLESS") for k in env)


async def test_service_variables_can_be_referenced_but_not_override() -> None:
    services = {"DB_SERVICE_HOST": "10.96.0.9", "DB_SERVICE_PORT": "5432"}
    container = {"env": [{"name": "URL", "value": "pg://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)"},
                         {"name": "DB_SERVICE_PORT", "value": "6000"}]}
    env = await container_env(POD, container, FakeObjects(), pod_ip="", host_ip="",
                              allocatable={}, services=services)
    assert env["URL"] == "pg://10.96.0.9:5432"
    assert env["DB_SERVICE_PORT"] == "6000" and env["DB_SERVICE_HOST"] == "10.96.0.9"
