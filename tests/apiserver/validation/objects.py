"""Valid objects of each kind, defaulted as the API server stores them, for tests to break."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.defaults import apply_defaults
from apiserver.validation import validate
from machinery.resources import Resource, lookup

_MANIFESTS: dict[str, dict[str, Any]] = {
    "pods": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                 "ports": [{"containerPort": 80, "name": "http"}]}]},
    },
    "deployments": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web2", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    },
    "replicasets": {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    },
    "statefulsets": {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres"}]}}},
    },
    "daemonsets": {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}},
    },
    "jobs": {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": "0f1c6a56-1111"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "pi", "image": "perl"}]}}},
    },
    "cronjobs": {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"schedule": "*/5 * * * *",
                 "jobTemplate": {"spec": {"template": {"spec": {
                     "restartPolicy": "OnFailure",
                     "containers": [{"name": "hello", "image": "busybox"}]}}}}},
    },
    "services": {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    },
    "namespaces": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    "configmaps": {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "conf", "namespace": "default"},
                   "data": {"app.properties": "a=b"}},
    "secrets": {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "creds", "namespace": "default"},
                "data": {"password": "c2VjcmV0"}},
    "nodes": {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
              "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}},
    "persistentvolumeclaims": {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
    "persistentvolumes": {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                 "hostPath": {"path": "/data/pv-1"}},
    },
    "ingresses": {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    },
    "endpointslices": {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"name": "http", "port": 80}],
    },
    "leases": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
               "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
}


def resource(plural: str) -> Resource:
    found = lookup(plural)
    assert found is not None, plural
    return found


def stored(plural: str) -> dict[str, Any]:
    """A fresh valid object of the kind, after defaulting (and checked to be valid)."""
    obj = copy.deepcopy(_MANIFESTS[plural])
    apply_defaults(resource(plural), obj)
    assert validate(resource(plural), obj) == [], plural
    return obj


def fields(causes: list[dict[str, str]]) -> list[str]:
    return [c["field"] for c in causes]


def lines(causes: list[dict[str, str]]) -> list[str]:
    """Causes as kubectl prints them: ``<field>: <message>``."""
    return [f"{c['field']}: {c['message']}" for c in causes]


PLURALS = tuple(_MANIFESTS)
