"""API defaults: what a real cluster fills in, idempotently, for every kind."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import apiserver.defaults as defaults
from apiserver.defaults import apply_defaults
from apiserver.defaults.podspec import pull_policy, qos_class
from machinery.resources import RESOURCES, Resource, lookup


def res(name: str) -> Resource:
    found = lookup(name)
    assert found is not None
    return found


def defaulted(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    apply_defaults(res(name), obj)
    return obj


def pod_manifest(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def template(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    body.update(spec)
    return {"metadata": {"labels": {"app": "web"}}, "spec": body}


def test_public_api() -> None:
    assert defaults.__all__ == ["apply_defaults"]


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.25", "IfNotPresent"),
    ("registry.local:5000/team/app", "Always"),
    ("registry.local:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "Always"),
])
def test_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert pull_policy(image) == policy


def test_pod_defaults_match_a_real_cluster() -> None:
    pod = defaulted("pods", pod_manifest())
    spec = pod["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "schedulerName",
                                 "terminationGracePeriodSeconds", "securityContext",
                                 "enableServiceLinks", "preemptionPolicy", "priority",
                                 "serviceAccountName", "serviceAccount")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
        "securityContext": {}, "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
        "serviceAccountName": "default", "serviceAccount": "default"}
    assert spec["containers"][0] == {
        "name": "web", "image": "nginx", "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "resources": {}}
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_pod_keeps_what_the_user_set() -> None:
    pod = defaulted("pods", pod_manifest(
        restartPolicy="Never", serviceAccountName="robot", terminationGracePeriodSeconds=0,
        tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                      "effect": "NoExecute", "tolerationSeconds": 5}]))
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "robot"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unreachable"]
    assert spec["tolerations"][0]["tolerationSeconds"] == 5


def test_wildcard_toleration_covers_node_taints() -> None:
    pod = defaulted("pods", pod_manifest(tolerations=[{"operator": "Exists"}]))
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_container_ports_probes_env_and_volumes() -> None:
    pod = defaulted("pods", pod_manifest(
        containers=[{
            "name": "web", "image": "nginx:1.25",
            "ports": [{"containerPort": 80}],
            "readinessProbe": {"httpGet": {"port": 80}},
            "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}},
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        }],
        volumes=[{"name": "scratch"}, {"name": "conf", "configMap": {"name": "c"}},
                 {"name": "creds", "secret": {"secretName": "s", "defaultMode": 256}},
                 {"name": "host", "hostPath": {"path": "/var/log"}},
                 {"name": "info", "downwardAPI": {"items": [
                     {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}],
    ))
    ctr = pod["spec"]["containers"][0]
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert ctr["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                     "timeoutSeconds": 1, "periodSeconds": 10,
                                     "successThreshold": 1, "failureThreshold": 3}
    assert ctr["livenessProbe"]["periodSeconds"] == 5
    assert ctr["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/quit",
                                                      "scheme": "HTTP"}
    assert ctr["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert ctr["imagePullPolicy"] == "IfNotPresent"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["conf"]["configMap"]["defaultMode"] == 420
    assert volumes["creds"]["secret"]["defaultMode"] == 256
    assert volumes["host"]["hostPath"]["type"] == ""
    assert volumes["info"]["downwardAPI"]["defaultMode"] == 420
    assert volumes["info"]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"


def test_requests_default_to_limits_and_qos() -> None:
    pod = defaulted("pods", pod_manifest(containers=[{
        "name": "web", "image": "nginx",
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]))
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m",
                                                                     "memory": "128Mi"}
    assert pod["status"]["qosClass"] == "Guaranteed"
    burstable = {"containers": [{"resources": {"requests": {"cpu": "100m"}}}]}
    assert qos_class(burstable) == "Burstable"
    mismatched = {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                                "limits": {"cpu": "2", "memory": "1Gi"}}}]}
    assert qos_class(mismatched) == "Burstable"


def test_host_network_pods_default_host_ports() -> None:
    pod = defaulted("pods", pod_manifest(hostNetwork=True, containers=[
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 8080}]}]))
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_templates_get_pod_spec_defaults_but_not_pod_only_ones() -> None:
    deploy = defaulted("deployments", {"metadata": {"name": "web", "namespace": "default"},
                                       "spec": {"selector": {"matchLabels": {"app": "web"}},
                                                "template": template()}})
    spec = deploy["spec"]
    assert {k: spec[k] for k in ("replicas", "strategy", "revisionHistoryLimit",
                                 "progressDeadlineSeconds")} == {
        "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["terminationMessagePolicy"] == "File"
    for pod_only in ("tolerations", "enableServiceLinks", "priority", "serviceAccountName"):
        assert pod_only not in pod_spec


def test_recreate_deployments_get_no_rolling_update() -> None:
    deploy = defaulted("deployments", {"metadata": {"name": "web"}, "spec": {
        "strategy": {"type": "Recreate"}, "template": template()}})
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}


def test_replica_set_stateful_set_daemon_set() -> None:
    rs = defaulted("replicasets", {"metadata": {"name": "r"}, "spec": {"template": template()}})
    assert rs["spec"]["replicas"] == 1
    sts = defaulted("statefulsets", {"metadata": {"name": "db"}, "spec": {
        "template": template(),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    assert {k: sts["spec"][k] for k in ("replicas", "podManagementPolicy", "updateStrategy",
                                        "revisionHistoryLimit",
                                        "persistentVolumeClaimRetentionPolicy")} == {
        "replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                 "whenScaled": "Retain"}}
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    ds = defaulted("daemonsets", {"metadata": {"name": "d"}, "spec": {"template": template()}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10


def test_job_defaults_and_generated_selector() -> None:
    job = defaulted("jobs", {"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
                             "spec": {"template": {"spec": {
                                 "restartPolicy": "Never",
                                 "containers": [{"name": "pi", "image": "perl"}]}}}})
    spec = job["spec"]
    assert {k: spec[k] for k in ("parallelism", "completions", "backoffLimit", "completionMode",
                                 "suspend", "podReplacementPolicy", "selector")} == {
        "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}}
    generated = {"batch.kubernetes.io/controller-uid": "u-1",
                 "batch.kubernetes.io/job-name": "pi", "controller-uid": "u-1", "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == generated
    assert job["metadata"]["labels"] == generated


def test_job_keeps_user_labels_and_manual_selectors() -> None:
    job = defaulted("jobs", {"metadata": {"name": "pi", "uid": "u-1"}, "spec": {
        "parallelism": 3, "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {}}}})
    assert job["metadata"]["labels"] == {"app": "pi"}
    assert job["spec"]["parallelism"] == 3
    assert "completions" not in job["spec"]
    manual = defaulted("jobs", {"metadata": {"name": "pi", "uid": "u-1"}, "spec": {
        "manualSelector": True, "selector": {"matchLabels": {"app": "pi"}},
        "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {}}}})
    assert manual["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert manual["spec"]["template"]["metadata"]["labels"] == {"app": "pi"}


def test_job_without_uid_gets_no_selector() -> None:
    job = defaulted("jobs", {"metadata": {"name": "pi"}, "spec": {"template": {"spec": {}}}})
    assert "selector" not in job["spec"]


def test_cron_job_defaults() -> None:
    cj = defaulted("cronjobs", {"metadata": {"name": "c"}, "spec": {
        "schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "busybox"}]}}}}}})
    spec = cj["spec"]
    assert {k: spec[k] for k in ("concurrencyPolicy", "suspend", "successfulJobsHistoryLimit",
                                 "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1}
    job_spec = spec["jobTemplate"]["spec"]
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "backoffLimit" not in job_spec


def test_service_defaults_by_type() -> None:
    svc = defaulted("services", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https",
                                                              "protocol": "UDP"}]}})
    assert svc["spec"] == {
        "selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                  {"port": 443, "targetPort": "https", "protocol": "UDP"}]}
    assert svc["status"] == {"loadBalancer": {}}
    node_port = defaulted("services", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    lb = defaulted("services", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    external = defaulted("services", {"spec": {"type": "ExternalName",
                                               "externalName": "db.example.com"}})
    assert "internalTrafficPolicy" not in external["spec"]
    assert "externalTrafficPolicy" not in external["spec"]
    sticky = defaulted("services", {"spec": {"sessionAffinity": "ClientIP", "ports": []}})
    assert sticky["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_allocator_fields_are_left_alone() -> None:
    svc = defaulted("services", {"spec": {"ports": [{"port": 80}]}})
    for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert field not in svc["spec"]


def test_namespace_defaults() -> None:
    ns = defaulted("namespaces", {"metadata": {"name": "team-a"}})
    assert ns == {"metadata": {"name": "team-a",
                               "labels": {"kubernetes.io/metadata.name": "team-a"}},
                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    deleting = defaulted("namespaces", {"metadata": {"name": "gone",
                                                     "deletionTimestamp": "2025-01-01T00:00:00Z"},
                                        "spec": {}, "status": {"phase": "Terminating"}})
    assert "finalizers" not in deleting["spec"]
    assert deleting["status"]["phase"] == "Terminating"


def test_secret_defaults_fold_string_data() -> None:
    secret = defaulted("secrets", {"metadata": {"name": "s"}, "data": {"a": "eA=="},
                                   "stringData": {"b": "hello"}})
    assert secret == {"metadata": {"name": "s"}, "type": "Opaque",
                      "data": {"a": "eA==", "b": "aGVsbG8="}}


def test_storage_defaults() -> None:
    pvc = defaulted("persistentvolumeclaims", {"metadata": {"name": "d"}, "spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["status"]["phase"] == "Pending"
    pv = defaulted("persistentvolumes", {"metadata": {"name": "p"},
                                         "spec": {"hostPath": {"path": "/x"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["hostPath"]["type"] == ""
    assert pv["status"]["phase"] == "Pending"
    sc = defaulted("storageclasses", {"metadata": {"name": "s"}, "provisioner": "x.io/y"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")


def test_node_defaults_satisfy_strict_clients() -> None:
    node = defaulted("nodes", {"metadata": {"name": "n"},
                               "status": {"capacity": {"cpu": "2"},
                                          "nodeInfo": {"kubeletVersion": "v1.32.0"}}})
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.32.0"
    assert info["bootID"] == info["machineID"] == info["kubeProxyVersion"] == ""
    assert node["status"]["allocatable"] == {"cpu": "2"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}


def test_endpoint_ports_default_to_tcp() -> None:
    eps = defaulted("endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert eps["subsets"][0]["ports"][0]["protocol"] == "TCP"
    slices = defaulted("endpointslices.discovery.k8s.io", {"ports": [{"port": 80}]})
    assert slices["ports"][0] == {"port": 80, "name": "", "protocol": "TCP"}


def test_kinds_without_defaults_are_untouched() -> None:
    for name in ("configmaps", "leases", "ingresses", "serviceaccounts", "events"):
        obj = {"metadata": {"name": "x"}, "data": {"a": "b"}}
        assert defaulted(name, copy.deepcopy(obj)) == obj


MANIFESTS = {
    "pods": pod_manifest(),
    "deployments": {"metadata": {"name": "w"}, "spec": {"template": template()}},
    "statefulsets": {"metadata": {"name": "w"}, "spec": {"template": template()}},
    "daemonsets": {"metadata": {"name": "w"}, "spec": {"template": template()}},
    "jobs": {"metadata": {"name": "w", "uid": "u"}, "spec": {"template": template()}},
    "cronjobs": {"spec": {"jobTemplate": {"spec": {"template": template()}}}},
    "services": {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}},
    "namespaces": {"metadata": {"name": "n"}},
    "secrets": {"stringData": {"a": "b"}},
    "nodes": {"status": {"capacity": {"cpu": "1"}}},
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_defaulting_is_idempotent(name: str) -> None:
    once = defaulted(name, copy.deepcopy(MANIFESTS[name]))
    twice = defaulted(name, copy.deepcopy(once))
    assert twice == once


def test_every_resource_accepts_empty_and_odd_objects() -> None:
    for resource in RESOURCES:
        for obj in ({}, {"spec": None, "metadata": None, "status": []},
                    {"spec": {"template": {"spec": {"containers": ["x", None]}}}}):
            once = copy.deepcopy(obj)
            apply_defaults(resource, once)
            twice = copy.deepcopy(once)
            apply_defaults(resource, twice)
            assert twice == once, resource.kind
        not_an_object: Any = ["x"]
        apply_defaults(resource, not_an_object)
        assert not_an_object == ["x"]
