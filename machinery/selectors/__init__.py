"""Label and field selectors, parsed and matched the way Kubernetes does it.

The API server filters lists and watches with them, controllers use them to
find the pods they own, and the CLI prints them back; all three must agree
with real Kubernetes byte for byte, because kubectl and the official clients
send selector strings that the apiserver has to read exactly as
``k8s.io/apimachinery/pkg/labels`` and ``.../fields`` would. Errors carry the
same wording so users see familiar messages.

Two rules worth knowing:

* a metav1.LabelSelector that is absent (``None``) selects *nothing*, while an
  empty one (``{}``) selects *everything* (``LabelSelectorAsSelector``);
* an absent label set is the same as an empty one, so ``!key`` and
  ``key!=v`` match it.
"""

from __future__ import annotations

from machinery.selectors.fields import FieldSelector, escape_field_value, parse_field_selector
from machinery.selectors.labels import (
    LabelSelector,
    Operator,
    Requirement,
    format_label_selector,
    label_selector_from_dict,
    label_selector_from_set,
    parse_label_selector,
    selector_to_string,
)
from machinery.selectors.names import is_dns1123_subdomain, is_qualified_name, is_valid_label_value

# A literal list, not [*labels.__all__, ...]: pyflakes and type checkers read
# only literals; tests/machinery/test_selectors.py keeps it in step with the modules.
__all__ = [
    "Operator",
    "Requirement",
    "LabelSelector",
    "parse_label_selector",
    "label_selector_from_dict",
    "label_selector_from_set",
    "selector_to_string",
    "format_label_selector",
    "FieldSelector",
    "parse_field_selector",
    "escape_field_value",
    "is_qualified_name",
    "is_valid_label_value",
    "is_dns1123_subdomain",
]
