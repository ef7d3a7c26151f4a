"""Schema type checks and unknown-field handling, and robustness on arbitrary JSON."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apiserver.defaults import apply_defaults
from apiserver.validation import check_schema, decode_error_message, drop_unknown_fields, validate
from machinery.resources import RESOURCES
from tests.apiserver.validation.objects import PLURALS, resource, stored

DEPLOY = resource("deployments")


def test_valid_objects_pass() -> None:
    for plural in PLURALS:
        assert check_schema(resource(plural), stored(plural)) == ([], []), plural


def test_type_errors_use_go_decode_wording() -> None:
    assert check_schema(DEPLOY, {"spec": {"replicas": "3"}}) == (
        ["json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
         "type int32"], [])
    assert check_schema(DEPLOY, {"spec": {"replicas": 1.5}})[0] == [
        "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of "
        "type int32"]
    assert check_schema(DEPLOY, {"spec": {"template": {"spec": {"containers": {}}}}})[0] == [
        "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers "
        "of type []v1.Container"]
    assert check_schema(DEPLOY, {"metadata": {"labels": {"a": 1}}})[0] == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type "
        "string"]
    assert check_schema(DEPLOY, {"spec": "x"})[0] == [
        "json: cannot unmarshal string into Go struct field Deployment.spec of type "
        "v1.DeploymentSpec"]
    assert check_schema(DEPLOY, ["not", "an", "object"])[0] == [
        "json: cannot unmarshal array into Go value of type v1.Deployment"]


def test_only_the_first_type_error_is_reported() -> None:
    errors, warnings = check_schema(DEPLOY, {"spec": {"replicas": "3", "paused": "no",
                                                      "unknownField": 1}})
    assert errors == ["json: cannot unmarshal string into Go struct field "
                      "DeploymentSpec.spec.replicas of type int32"]
    assert warnings == []


def test_special_types() -> None:
    pod = resource("pods")
    port = {"spec": {"containers": [{"name": "c", "livenessProbe": {"httpGet": {"port": True}}}]}}
    assert check_schema(pod, port)[0] == ["json: cannot unmarshal bool into Go value of type "
                                          "int32"]
    for good in ("http", 8080):
        port["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = good
        assert check_schema(pod, port) == ([], [])
    quantity = {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1x"}}}]}}
    assert check_schema(pod, quantity)[0] == [
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]
    for good_quantity in ("500m", 2, 0.5, "1Gi", "1e3"):
        quantity["spec"]["containers"][0]["resources"]["limits"]["cpu"] = good_quantity
        assert check_schema(pod, quantity) == ([], [])
    assert check_schema(pod, {"metadata": {"creationTimestamp": "yesterday"}})[0] == [
        'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as '
        '"2006"']


def test_secret_data_must_be_base64() -> None:
    secret = resource("secrets")
    assert check_schema(secret, {"data": {"a": "c2VjcmV0"}}) == ([], [])
    assert check_schema(secret, {"data": {"a": "c2Vj*mV0"}})[0] == [
        "illegal base64 data at input byte 4"]
    assert check_schema(secret, {"data": {"a": 5}})[0] == [
        "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"]


def test_unknown_fields_by_validation_mode() -> None:
    obj = stored("deployments")
    obj["spec"]["replicasx"] = 2
    obj["spec"]["template"]["spec"]["containers"][0]["imagex"] = "x"
    # Reported in document order: the template comes before the field appended last.
    unknown = ['unknown field "spec.template.spec.containers[0].imagex"',
               'unknown field "spec.replicasx"']
    assert check_schema(DEPLOY, obj) == (unknown, [])
    assert check_schema(DEPLOY, obj, field_validation="Warn") == ([], unknown)
    assert check_schema(DEPLOY, obj, field_validation="Ignore") == ([], [])


def test_free_form_fields_are_not_checked() -> None:
    obj = stored("deployments")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply",
                                         "fieldsType": "FieldsV1",
                                         "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    assert check_schema(DEPLOY, obj) == ([], [])
    revision = {"metadata": {"name": "r"}, "data": {"anything": [1, {"goes": True}]},
                "revision": 1}
    assert check_schema(resource("controllerrevisions"), revision) == ([], [])


def test_null_is_accepted_anywhere() -> None:
    assert check_schema(DEPLOY, {"spec": {"replicas": None, "template": None}}) == ([], [])


def test_drop_unknown_fields() -> None:
    obj = stored("deployments")
    expected = copy.deepcopy(obj)
    obj["spec"]["bogus"] = 1
    obj["spec"]["template"]["spec"]["containers"][0]["nope"] = {}
    drop_unknown_fields(DEPLOY, obj)
    assert obj == expected


def test_decode_error_message() -> None:
    assert decode_error_message(DEPLOY, ['unknown field "spec.a"', 'unknown field "spec.b"']) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.a", unknown field "spec.b"')
    assert decode_error_message(DEPLOY, ["json: cannot unmarshal string into Go struct field "
                                         "DeploymentSpec.spec.replicas of type int32"]) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["spec", "metadata", "status", "template", "containers", "ports", "name",
                         "selector", "labels", "image", "data", "type", "rules", "x"]),
        inner, max_size=4),
    max_leaves=25)


def _shaped(plural: str) -> st.SearchStrategy[Any]:
    """Mutations of a valid object: any subtree replaced by arbitrary JSON."""
    base = stored(plural)

    def mutate(path_choice: int, value: Any) -> Any:
        obj = copy.deepcopy(base)
        nodes: list[tuple[Any, Any]] = []

        def collect(node: Any) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    nodes.append((node, k))
                    collect(v)
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    nodes.append((node, i))
                    collect(v)
        collect(obj)
        parent, key = nodes[path_choice % len(nodes)]
        parent[key] = value
        return obj
    return st.builds(mutate, st.integers(0, 10 ** 6), _json)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_nothing_raises_on_arbitrary_json(data: st.DataObject) -> None:
    plural = data.draw(st.sampled_from(PLURALS))
    obj = data.draw(st.one_of(_json, _shaped(plural)))
    res = resource(plural)
    check_schema(res, obj)
    old = stored(plural)
    if isinstance(obj, dict):
        apply_defaults(res, obj)
        validate(res, obj, old)
        validate(res, old, obj)
    validate(res, obj)


@settings(max_examples=100, deadline=None)
@given(obj=_json)
def test_every_resource_tolerates_garbage(obj: Any) -> None:
    for res in RESOURCES:
        check_schema(res, obj)
        if isinstance(obj, dict):
            candidate = copy.deepcopy(obj)
            apply_defaults(res, candidate)
            validate(res, candidate, candidate)
        validate(res, obj)
