"""OpenAPI v3 documents: well-formed, self-contained, and what kubectl looks for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from apiserver.discovery import group_versions
from apiserver.openapi import group_version_path, openapi_v3_document, openapi_v3_hash, openapi_v3_index
from tests.apiserver.kubectl_harness import Harness, kubectl_harness
from machinery.resources import RESOURCES, Resource

PATHS = [group_version_path(g, v) for g, v in group_versions()]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    yield from _refs(sub)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for sub in node:
            yield from _refs(sub)


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                yield from _schema_nodes(node[key])
        for sub in (node.get("properties") or {}).values():
            yield from _schema_nodes(sub)
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in node.get(key) or ():
                yield from _schema_nodes(sub)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _gvk(resource: Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def test_index_links_every_group_version_by_hash() -> None:
    index = openapi_v3_index()
    assert set(index["paths"]) == set(PATHS)
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1"} <= set(index["paths"])
    for path, entry in index["paths"].items():
        digest = openapi_v3_hash(path)
        assert digest and entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}


def test_unknown_and_normalised_paths() -> None:
    assert openapi_v3_document("apis/apps/v9") is None
    assert openapi_v3_document("apis/nope/v1") is None
    assert openapi_v3_hash("api/v2") is None
    assert openapi_v3_document("/openapi/v3/apis/apps/v1/") is openapi_v3_document("apis/apps/v1")


@pytest.mark.parametrize("path", PATHS)
def test_documents_are_well_formed_openapi_3(path: str) -> None:
    document = openapi_v3_document(path)
    assert document is not None
    assert document["openapi"].startswith("3.0")
    assert set(document["info"]) == {"title", "version"}
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for name, component in schemas.items():
        jsonschema.Draft4Validator.check_schema(component)
        for node in _schema_nodes(component):
            assert not isinstance(node.get("type"), list), name
            assert "$ref" not in node or len(node) == 1, name  # siblings of $ref go through allOf
    for route, method, operation in _operations(document):
        assert route.startswith("/" + path), route
        assert operation["operationId"] and operation["responses"]
        assert all({"name", "in", "schema"} <= set(p) for p in operation.get("parameters", []))
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    json.dumps(document)


def test_meta_and_referenced_kinds_are_included() -> None:
    core = openapi_v3_document("api/v1")
    apps = openapi_v3_document("apis/apps/v1")
    assert core is not None and apps is not None
    for name in ("io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList", "io.k8s.api.core.v1.Binding",
                 "io.k8s.api.policy.v1.Eviction", "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"):
        assert name in core["components"]["schemas"], name
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
    assert "io.k8s.api.core.v1.PodTemplateSpec" in apps["components"]["schemas"]
    assert "io.k8s.api.batch.v1.Job" not in apps["components"]["schemas"]


def test_schemas_are_converted_to_openapi_form() -> None:
    apps = openapi_v3_document("apis/apps/v1")
    assert apps is not None
    schemas = apps["components"]["schemas"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["type"] == "object"
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert "enum" not in deployment["properties"]["apiVersion"]
    assert deployment["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    assert schemas["io.k8s.api.core.v1.PodSpec"]["required"] == ["containers"]


def test_a_deployment_validates_against_its_component_schema() -> None:
    apps = openapi_v3_document("apis/apps/v1")
    assert apps is not None
    root = {"components": apps["components"], "$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx",
                                                       "ports": [{"containerPort": 80}]}]}}},
    }
    jsonschema.Draft4Validator(root).validate(deployment)
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(root).validate(deployment)


def test_deployment_patch_operation_has_gvk_and_field_validation() -> None:
    apps = openapi_v3_document("apis/apps/v1")
    assert apps is not None
    patch = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert patch["x-kubernetes-action"] == "patch"
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in patch["parameters"] if p["name"] == "fieldValidation").items()
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.qualified)
def test_kubectl_query_param_verifier_finds_field_validation(resource: Resource) -> None:
    """Like cli-runtime: every PATCH for the GVK must list fieldValidation (Go maps iterate randomly)."""
    document = openapi_v3_document(group_version_path(resource.group, resource.version))
    assert document is not None
    patches = [op for _, method, op in _operations(document)
               if method == "patch" and op.get("x-kubernetes-group-version-kind") == _gvk(resource)]
    assert patches
    for op in patches:
        assert "fieldValidation" in [p["name"] for p in op["parameters"]]
        assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.qualified)
def test_kubectl_explain_can_find_each_kind(resource: Resource) -> None:
    """Like kubectl explain's template: GVK from the resource's paths, schema by that GVK."""
    path = group_version_path(resource.group, resource.version)
    document = openapi_v3_document(path)
    assert document is not None
    prefix = f"/{path}"
    candidates = [f"{prefix}/{resource.plural}", f"{prefix}/{resource.plural}/{{name}}",
                  f"{prefix}/namespaces/{{namespace}}/{resource.plural}",
                  f"{prefix}/namespaces/{{namespace}}/{resource.plural}/{{name}}"]
    found = [op["x-kubernetes-group-version-kind"] for c in candidates if c in document["paths"]
             for m, op in document["paths"][c].items() if m in METHODS]
    assert found and all(gvk == _gvk(resource) for gvk in found)
    matches = [n for n, s in document["components"]["schemas"].items()
               if _gvk(resource) in s.get("x-kubernetes-group-version-kind", [])]
    assert len(matches) == 1


def test_operations_follow_verbs_and_scope() -> None:
    core = openapi_v3_document("api/v1")
    assert core is not None
    paths = core["paths"]
    assert set(paths["/api/v1/namespaces/{namespace}/pods"]) >= {"get", "post", "delete", "parameters"}
    assert paths["/api/v1/namespaces/{namespace}/pods"]["delete"]["x-kubernetes-action"] == "deletecollection"
    assert paths["/api/v1/pods"]["get"]["x-kubernetes-action"] == "list"
    assert "delete" not in paths["/api/v1/namespaces/{namespace}/services"]  # no deletecollection verb
    assert "/api/v1/namespaces/{name}" in paths and "/api/v1/nodes/{name}/status" in paths
    assert paths["/api/v1/namespaces/{name}/finalize"].keys() == {"put", "parameters"}
    exec_op = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["post"]
    assert exec_op["x-kubernetes-action"] == "connect"
    assert exec_op["x-kubernetes-group-version-kind"]["kind"] == "PodExecOptions"
    log = paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert {"container", "follow", "tailLines"} <= {p["name"] for p in log["parameters"]}
    assert "text/plain" in log["responses"]["200"]["content"]
    eviction = paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert eviction["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.policy.v1.Eviction"}
    item_params = paths["/api/v1/namespaces/{namespace}/pods/{name}"]["parameters"]
    assert [(p["name"], p["in"], p.get("required")) for p in item_params] == [
        ("name", "path", True), ("namespace", "path", True), ("pretty", "query", None)]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with kubectl_harness(tmp_path) as running:
        yield running


@pytest.mark.compat
def test_kubectl_explain_reads_the_documents(harness: Harness) -> None:
    result = harness.kubectl("explain", "deployment.spec")
    assert result.returncode == 0, result.stderr
    assert "KIND:       Deployment" in result.stdout and "FIELD: spec <DeploymentSpec>" in result.stdout
    assert "selector\t<LabelSelector> -required-" in result.stdout
    pods = harness.kubectl("explain", "po.spec.containers.ports")
    assert pods.returncode == 0 and "containerPort\t<integer> -required-" in pods.stdout


@pytest.mark.compat
def test_kubectl_apply_uses_server_side_validation_and_v3_patches(harness: Harness, tmp_path: Path) -> None:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    (tmp_path / "web.json").write_text(json.dumps(manifest))
    harness.kubectl("apply", "-f", str(tmp_path / "web.json"))
    method, url, _ = harness.writes[0]
    assert method == "POST" and "fieldValidation=Strict" in url

    previous = json.loads(json.dumps(manifest))
    previous["spec"]["template"]["spec"]["containers"].append({"name": "old", "image": "busybox"})
    existing = {**previous, "metadata": {
        "name": "web", "namespace": "default", "resourceVersion": "5", "uid": "u",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(previous)}}}
    harness.on_get = lambda path, query: (existing, "application/json") if path.endswith("/web") else None
    harness.writes.clear()
    harness.kubectl("apply", "-f", str(tmp_path / "web.json"))
    method, url, body = harness.writes[0]
    assert method == "PATCH" and "fieldValidation=Strict" in url
    pod_spec = body["spec"]["template"]["spec"]
    assert pod_spec["$setElementOrder/containers"] == [{"name": "web"}]
    assert {"$patch": "delete", "name": "old"} in pod_spec["containers"]


def test_exported_members_exist() -> None:
    import apiserver.openapi as package
    from apiserver.openapi import components, paths

    for module in (package, components, paths):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
