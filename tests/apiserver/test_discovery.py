"""Discovery documents: aggregated v2 and legacy, checked against the resource table."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import models

from apiserver.discovery import (
    AGGREGATED_CONTENT_TYPE,
    VIRTUAL_RESOURCES,
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    group_versions,
)
from machinery.resources import RESOURCES

EXPECTED_SHORT_NAMES = {
    ("", "pods"): ["po"], ("", "nodes"): ["no"], ("", "services"): ["svc"], ("", "namespaces"): ["ns"],
    ("", "configmaps"): ["cm"], ("", "endpoints"): ["ep"], ("", "events"): ["ev"],
    ("", "serviceaccounts"): ["sa"], ("", "persistentvolumeclaims"): ["pvc"], ("", "persistentvolumes"): ["pv"],
    ("apps", "deployments"): ["deploy"], ("apps", "replicasets"): ["rs"], ("apps", "statefulsets"): ["sts"],
    ("apps", "daemonsets"): ["ds"], ("batch", "cronjobs"): ["cj"], ("networking.k8s.io", "ingresses"): ["ing"],
    ("storage.k8s.io", "storageclasses"): ["sc"],
}


def _aggregated_entries() -> dict[tuple[str, str, str], dict[str, Any]]:
    found = {}
    for core in (True, False):
        for group in aggregated_discovery(core)["items"]:
            for version in group["versions"]:
                for entry in version["resources"]:
                    found[(group["metadata"]["name"], version["version"], entry["resource"])] = entry
    return found


def test_aggregated_lists_split_core_from_named_groups() -> None:
    core = aggregated_discovery(True)
    named = aggregated_discovery(False)
    assert (core["kind"], core["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    assert [g["metadata"]["name"] for g in core["items"]] == [""]
    names = [g["metadata"]["name"] for g in named["items"]]
    assert "" not in names and {"apps", "batch", "networking.k8s.io", "events.k8s.io"} <= set(names)
    assert all(v["freshness"] == "Current" for g in named["items"] for v in g["versions"])
    assert AGGREGATED_CONTENT_TYPE == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def test_aggregated_contains_every_resource_with_its_facts() -> None:
    entries = _aggregated_entries()
    assert len(entries) == len(RESOURCES) + len(VIRTUAL_RESOURCES)
    for resource in RESOURCES:
        entry = entries[(resource.group, resource.version, resource.plural)]
        assert entry["responseKind"] == {"group": resource.group, "version": resource.version, "kind": resource.kind}
        assert entry["scope"] == ("Namespaced" if resource.namespaced else "Cluster")
        assert entry["singularResource"] == resource.singular_name
        assert entry["verbs"] == list(resource.verbs)
        assert entry.get("shortNames", []) == list(resource.short_names)
        assert entry.get("categories", []) == list(resource.categories)
        assert [s["subresource"] for s in entry.get("subresources", [])] == sorted(resource.subresources)


@pytest.mark.parametrize(("key", "short"), sorted(EXPECTED_SHORT_NAMES.items()))
def test_short_names_kubectl_relies_on(key: tuple[str, str], short: list[str]) -> None:
    entries = {(g, r): e for (g, _, r), e in _aggregated_entries().items()}
    assert entries[key]["shortNames"] == short


def test_all_category_holds_the_workloads() -> None:
    in_all = {r for (_, _, r), e in _aggregated_entries().items() if "all" in e.get("categories", [])}
    assert {"pods", "services", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
            "cronjobs"} <= in_all
    assert "secrets" not in in_all


def test_subresources_answer_with_the_right_kinds() -> None:
    entries = _aggregated_entries()
    pods = {s["subresource"]: s for s in entries[("", "v1", "pods")]["subresources"]}
    assert pods["status"] == {"subresource": "status", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
                              "verbs": ["get", "patch", "update"]}
    assert pods["log"]["responseKind"]["kind"] == "Pod" and pods["log"]["verbs"] == ["get"]
    assert pods["exec"]["responseKind"]["kind"] == "PodExecOptions" and pods["exec"]["verbs"] == ["create", "get"]
    assert pods["portforward"]["responseKind"]["kind"] == "PodPortForwardOptions"
    assert pods["proxy"]["verbs"] == ["create", "delete", "get", "patch", "update"]
    assert pods["binding"]["responseKind"] == {"group": "", "version": "v1", "kind": "Binding"}
    assert pods["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    scale = {s["subresource"]: s for s in entries[("apps", "v1", "deployments")]["subresources"]}["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    finalize = {s["subresource"]: s for s in entries[("", "v1", "namespaces")]["subresources"]}["finalize"]
    assert finalize["verbs"] == ["update"]
    node_proxy = {s["subresource"]: s for s in entries[("", "v1", "nodes")]["subresources"]}["proxy"]
    assert node_proxy["responseKind"]["kind"] == "NodeProxyOptions"


def test_aggregated_result_is_a_private_copy() -> None:
    first = aggregated_discovery(False)
    first["items"].clear()
    assert aggregated_discovery(False)["items"]


def test_legacy_documents() -> None:
    versions = api_versions(server_address="10.0.0.1:6443")
    assert versions == {"kind": "APIVersions", "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}
    groups = api_group_list()
    assert groups["kind"] == "APIGroupList"
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps == {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
    assert api_group("apps") == {"kind": "APIGroup", "apiVersion": "v1", **apps}
    assert api_group("nope.example.com") is None
    assert api_group("") is None
    assert api_resource_list("nope", "v1") is None
    assert api_resource_list("apps", "v2") is None


def test_legacy_resource_list_has_subresource_entries() -> None:
    core = api_resource_list("", "v1")
    assert core is not None and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["singularName"] == "pod"
    assert by_name["pods/log"] == {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                                   "verbs": ["get"]}
    assert by_name["pods/eviction"]["group"] == "policy" and by_name["pods/eviction"]["kind"] == "Eviction"
    assert by_name["namespaces"]["namespaced"] is False
    apps = api_resource_list("apps", "v1")
    assert apps is not None
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    served = {r["name"] for gv in group_versions() for r in api_resource_list(*gv)["resources"]}  # type: ignore[index]
    for resource in RESOURCES:
        assert resource.plural in served
        assert {f"{resource.plural}/{s}" for s in resource.subresources} <= served


def test_documents_decode_with_the_strict_python_client() -> None:
    list_model = models.V2APIGroupDiscoveryList.from_dict(aggregated_discovery(False))
    assert list_model is not None and list_model.items
    assert models.V2APIGroupDiscoveryList.from_dict(aggregated_discovery(True)) is not None
    assert models.V1APIVersions.from_dict(api_versions()) is not None
    assert models.V1APIGroupList.from_dict(api_group_list()) is not None
    assert models.V1APIGroup.from_dict(api_group("batch")) is not None
    for gv in group_versions():
        parsed = models.V1APIResourceList.from_dict(api_resource_list(*gv))
        assert parsed is not None and parsed.resources


def test_exported_members_exist() -> None:
    import apiserver.discovery as module

    assert all(hasattr(module, name) for name in module.__all__)


def test_metrics_group_is_discovered_but_not_stored() -> None:
    entries = _aggregated_entries()
    nodes = entries[("metrics.k8s.io", "v1beta1", "nodes")]
    pods = entries[("metrics.k8s.io", "v1beta1", "pods")]
    assert nodes["responseKind"] == {"group": "metrics.k8s.io", "version": "v1beta1", "kind": "NodeMetrics"}
    assert (nodes["scope"], nodes["verbs"]) == ("Cluster", ["get", "list"])
    assert (pods["responseKind"]["kind"], pods["scope"], pods["verbs"]) == ("PodMetrics", "Namespaced", ["get", "list"])
    assert "subresources" not in pods
    legacy = api_resource_list("metrics.k8s.io", "v1beta1")
    assert legacy is not None and legacy["groupVersion"] == "metrics.k8s.io/v1beta1"
    assert {(r["name"], r["kind"], r["namespaced"]) for r in legacy["resources"]} == {
        ("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True)}
    assert api_group("metrics.k8s.io") == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "metrics.k8s.io",
        "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}}
    assert "metrics.k8s.io" in {g["name"] for g in api_group_list()["groups"]}
    # Storage, watch caches and /openapi/v3 know only the stored table.
    assert ("metrics.k8s.io", "v1beta1") not in group_versions()
    assert ("metrics.k8s.io", "v1beta1") in group_versions(virtual=True)
    assert not any(r.group == "metrics.k8s.io" for r in RESOURCES)
