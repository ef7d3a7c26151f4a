"""Field error wording: ErrorBody rendering, aggregation, and the 422 message."""

from __future__ import annotations

import importlib
import pkgutil

import apiserver.validation as validation
from apiserver.validation import field, invalid_message


def test_public_api_is_exported() -> None:
    assert {"validate", "check_schema", "invalid_message"} <= set(validation.__all__)
    for info in pkgutil.iter_modules(validation.__path__):
        module = importlib.import_module(f"apiserver.validation.{info.name}")
        for name in module.__all__:
            assert hasattr(module, name), (info.name, name)
    for name in validation.__all__:
        assert hasattr(validation, name), name


def test_bodies_follow_error_body() -> None:
    assert field.required("spec.containers") == {
        "reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    assert field.required("metadata.name", "name or generateName is required")["message"] == \
        "Required value: name or generateName is required"
    assert field.invalid("spec.replicas", -1, "must be greater than or equal to 0")["message"] == \
        "Invalid value: -1: must be greater than or equal to 0"
    assert field.forbidden("spec", "nope")["message"] == "Forbidden: nope"
    assert field.too_long("metadata.annotations", 262144)["message"] == \
        "Too long: must have at most 262144 bytes"
    assert field.duplicate("spec.containers[1].name", "web")["message"] == \
        'Duplicate value: "web"'
    assert field.not_found("x", "vol")["reason"] == "FieldValueNotFound"


def test_not_supported_quotes_each_value() -> None:
    cause = field.not_supported("spec.containers[0].imagePullPolicy", "Foo",
                                ("Always", "IfNotPresent", "Never"))
    assert cause["reason"] == "FieldValueNotSupported"
    assert cause["message"] == \
        'Unsupported value: "Foo": supported values: "Always", "IfNotPresent", "Never"'


def test_values_render_like_go() -> None:
    assert field.go_value(None) == "null"
    assert field.go_value(True) == "true"
    assert field.go_value(3) == "3"
    assert field.go_value(2.5) == "2.5"
    assert field.go_value(3.0) == "3"
    assert field.go_value('a"b\n') == '"a\\"b\\n"'
    assert field.go_value("héllo") == '"héllo"'
    assert field.go_value(field.GoRaw("25%")) == "25%"
    assert field.go_map({"b": "2", "a": "1"}) == 'map[string]string{"a":"1", "b":"2"}'
    assert field.go_map(None) == "map[string]string(nil)"
    assert field.go_strings(["a", "b"]) == '[]string{"a", "b"}'


def test_aggregate_dedupes_and_brackets() -> None:
    one = field.invalid("spec.replicas", -1, "must be greater than or equal to 0")
    two = field.required("spec.selector")
    assert field.aggregate([one]) == \
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    assert field.aggregate([one, two, one]) == (
        "[spec.replicas: Invalid value: -1: must be greater than or equal to 0, "
        "spec.selector: Required value]")


def test_invalid_message_qualifies_the_kind() -> None:
    causes = [field.invalid("spec.replicas", -1, "must be greater than or equal to 0")]
    assert invalid_message("Deployment", "apps", "web2", causes) == (
        'Deployment.apps "web2" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0")
    assert invalid_message("Pod", "", "web", [field.required("spec.containers")]) == \
        'Pod "web" is invalid: spec.containers: Required value'


def test_zero_pruned_compares_like_semantic_deep_equal() -> None:
    assert field.zero_pruned({"a": "", "b": [], "c": {"d": None}, "e": 1}) == {"e": 1}
    assert field.zero_pruned([{"x": 0}, {"y": "z"}]) == [{}, {"y": "z"}]


def test_go_diff_lists_changed_leaves() -> None:
    diff = field.go_diff("core.PodSpec", {"a": {"b": 1}, "c": [1]}, {"a": {"b": 2}, "c": [1]})
    assert diff.splitlines() == ["  core.PodSpec{", "- \ta.b: 1", "+ \ta.b: 2", "  }"]
