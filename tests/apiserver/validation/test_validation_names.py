"""Name, key and value syntax with Kubernetes' exact messages."""

from __future__ import annotations

import pytest

from apiserver.validation import names

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


@pytest.mark.parametrize("value", ["a", "web-1", "1abc", "x" * 63])
def test_dns1123_label_accepts(value: str) -> None:
    assert names.is_dns1123_label(value) == []


def test_dns1123_label_messages() -> None:
    assert names.is_dns1123_label("My_Name") == [DNS1123_LABEL_MSG]
    assert names.is_dns1123_label("a.b") == ["must not contain dots"]
    assert names.is_dns1123_label("x" * 64) == ["must be no more than 63 characters"]
    assert names.is_dns1123_label("") == [DNS1123_LABEL_MSG]


def test_dns1123_subdomain() -> None:
    assert names.is_dns1123_subdomain("example.com") == []
    assert names.is_dns1123_subdomain("Example.com") == [DNS1123_SUBDOMAIN_MSG]
    assert names.is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]


def test_dns1035_label_rejects_leading_digit() -> None:
    assert names.is_dns1035_label("svc") == []
    assert names.is_dns1035_label("1svc") == [DNS1035_MSG]


def test_wildcard_subdomain() -> None:
    assert names.is_wildcard_dns1123_subdomain("*.example.com") == []
    assert names.is_wildcard_dns1123_subdomain("*.*.example.com") != []
    assert names.is_wildcard_dns1123_subdomain("foo*.example.com") != []


@pytest.mark.parametrize("value", ["app", "App.Name_1", "example.com/app", "a" * 63,
                                   "k8s.io/" + "b" * 63])
def test_qualified_names_accepted(value: str) -> None:
    assert names.is_qualified_name(value) == []


def test_qualified_name_messages() -> None:
    assert names.is_qualified_name("-app") == [
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
    assert names.is_qualified_name("/app") == ["prefix part must be non-empty"]
    assert names.is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    too_long = names.is_qualified_name("a" * 64)
    assert too_long[0] == "name part must be no more than 63 characters"
    assert names.is_qualified_name("Bad_Prefix/app")[0].startswith(
        "prefix part a lowercase RFC 1123 subdomain")


def test_label_values() -> None:
    assert names.is_label_value("") == []
    assert names.is_label_value("v1.2_x") == []
    assert names.is_label_value("x" * 64)[0] == "must be no more than 63 characters"
    assert names.is_label_value("bad value")[0].startswith("a valid label must be an empty string")


def test_config_map_keys() -> None:
    assert names.is_config_map_key("app.properties") == []
    assert names.is_config_map_key("..data") == ["must not start with '..'"]
    assert names.is_config_map_key("a/b")[0].startswith("a valid config key must consist")


@pytest.mark.parametrize("port, problems", [
    ("http", []),
    ("metrics-8080", []),
    ("8080", ["must contain at least one letter (a-z)"]),
    ("a--b", ["must not contain consecutive hyphens"]),
    ("-http", ["must not begin or end with a hyphen"]),
    ("HTTP", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
              "must contain at least one letter (a-z)"]),
    ("a" * 16, ["must be no more than 15 characters"]),
])
def test_port_names(port: str, problems: list[str]) -> None:
    assert names.is_valid_port_name(port) == problems


def test_port_numbers_and_env_names() -> None:
    assert names.is_valid_port_num(80) == []
    assert names.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert names.is_env_var_name("MY.VAR-1") == []
    assert names.is_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters "
        "other than '='"]


def test_generate_name_prefix_may_end_in_dash() -> None:
    assert names.name_is_dns_subdomain("web-", True) == []
    assert names.name_is_dns_subdomain("web-", False) != []


def test_labels_and_annotations_report_at_map_path() -> None:
    causes = names.validate_labels({"app": "ok", "bad key": "v", "k": "bad value"},
                                   "metadata.labels")
    assert [c["field"] for c in causes] == ["metadata.labels", "metadata.labels"]
    assert causes[0]["message"].startswith('Invalid value: "bad key": name part must consist')
    assert causes[1]["message"].startswith('Invalid value: "bad value": a valid label')
    huge = {"a": "x" * (256 * 1024)}
    assert names.validate_annotations(huge, "metadata.annotations") == [{
        "reason": "FieldValueTooLong", "field": "metadata.annotations",
        "message": "Too long: must have at most 262144 bytes"}]
    assert names.validate_annotations({"Example.COM/Key": "v"}, "metadata.annotations") == []


def test_ip_and_cidr() -> None:
    assert names.is_valid_ip("x", "10.0.0.1") == []
    assert names.is_valid_ip("x", "10.0.0.300")[0]["message"] == (
        'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)")
    assert names.is_valid_cidr("x", "10.0.0.0/8") == []
    assert names.is_valid_cidr("x", "10.0.0.0") != []
