"""Syntax rules for names, keys and values, with Kubernetes' messages.

The ``is_*`` functions return the list of problems (empty when valid), like
apimachinery's ``util/validation``; callers wrap each problem in a field error,
so one bad value can yield several causes exactly as it does upstream.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from apiserver.validation import field
from apiserver.validation.field import Cause

__all__ = [
    "regex_error",
    "max_len_error",
    "inclusive_range_error",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_dns1035_label",
    "is_wildcard_dns1123_subdomain",
    "is_qualified_name",
    "is_label_value",
    "is_config_map_key",
    "is_valid_port_name",
    "is_valid_port_num",
    "is_env_var_name",
    "is_valid_percent",
    "is_http_header_name",
    "is_valid_ip",
    "is_valid_cidr",
    "NameFn",
    "name_is_dns_subdomain",
    "name_is_dns_label",
    "name_is_dns1035_label",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_qualified_name",
    "validate_label_name",
    "validate_labels",
    "validate_port_num_or_name",
    "validate_annotations",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                      "characters or '-', and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric "
                          "character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or "
                      "'-', start with an alphabetic character, and end with an alphanumeric "
                      "character")
_WILDCARD_FMT = "\\*\\." + _DNS1123_SUBDOMAIN_FMT
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                 "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                 "'.' and end with an alphanumeric character")
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
              "with an alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER_MSG = "a valid HTTP header must consist of alphanumeric characters or '-'"


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile("^(?:" + fmt + ")$")


_DNS1123_LABEL_RE = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = _full(_DNS1035_LABEL_FMT)
_WILDCARD_RE = _full(_WILDCARD_FMT)
_QNAME_RE = _full(_QNAME_FMT)
_LABEL_VALUE_RE = _full(_LABEL_VALUE_FMT)
_CONFIG_KEY_RE = _full(_CONFIG_KEY_FMT)
_PERCENT_RE = _full(_PERCENT_FMT)
_HEADER_RE = _full(_HEADER_FMT)
_PORT_NAME_CHARSET_RE = re.compile(r"^[-a-z0-9]+$")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _blen(value: str) -> int:
    """Go measures string lengths in bytes."""
    return len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        if _DNS1123_SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_LABEL_RE.match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _WILDCARD_RE.match(value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name "
                + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QNAME_RE.match(name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name",
                                               "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_KEY_RE.match(value):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME",
                                "key-name"))
    return errs + _chdir_prefix(value)


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if _blen(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_env_var_name(value: str) -> list[str]:
    """The relaxed rule (RelaxedEnvironmentVariableValidation is on by default in 1.32)."""
    errs = []
    if not value:
        errs.append("environment variable name must be non-empty")
    if any(ord(ch) > 0x7E or ord(ch) < 0x20 or ch == "=" for ch in value):
        errs.append("a valid environment variable name must consist only of printable ASCII "
                    "characters other than '='")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.match(value):
        return []
    return [regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]


def is_http_header_name(value: str) -> list[str]:
    if _HEADER_RE.match(value):
        return []
    return [regex_error(_HEADER_MSG, _HEADER_FMT, "X-Header-Name")]


def is_valid_ip(path: str, value: str) -> list[Cause]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [field.invalid(path, value,
                              "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def is_valid_cidr(path: str, value: str) -> list[Cause]:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in value:
            raise ValueError(value)
    except ValueError:
        return [field.invalid(path, value,
                              "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


NameFn = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    """A generateName prefix may end in '-'; the random suffix makes it valid."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-1] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, str):
        return [field.invalid(path, port, m) for m in is_valid_port_name(port)]
    number = port if isinstance(port, int) and not isinstance(port, bool) else 0
    return [field.invalid(path, number, m) for m in is_valid_port_num(number)]


def _each(path: str, value: Any, messages: list[str]) -> list[Cause]:
    return [field.invalid(path, value, m) for m in messages]


def validate_dns1123_label(value: str, path: str) -> list[Cause]:
    return _each(path, value, is_dns1123_label(value))


def validate_dns1123_subdomain(value: str, path: str) -> list[Cause]:
    return _each(path, value, is_dns1123_subdomain(value))


def validate_qualified_name(value: str, path: str) -> list[Cause]:
    return _each(path, value, is_qualified_name(value))


def validate_label_name(value: str, path: str) -> list[Cause]:
    return _each(path, value, is_qualified_name(value))


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(labels, dict):
        return causes
    for k in sorted(labels, key=str):
        v = labels[k]
        causes += validate_label_name(str(k), path)
        value = v if isinstance(v, str) else ""
        causes += _each(path, value, is_label_value(value))
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(annotations, dict):
        return causes
    total = 0
    for k in sorted(annotations, key=str):
        v = annotations[k]
        causes += _each(path, k, is_qualified_name(str(k).lower()))
        total += _blen(str(k)) + (_blen(v) if isinstance(v, str) else 0)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(field.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes
