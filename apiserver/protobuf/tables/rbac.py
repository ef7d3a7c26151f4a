"""Tables for ``rbac.authorization.k8s.io/v1`` roles and bindings.

Observed with ``kubectl create role|clusterrole --verb --resource
--resource-name --non-resource-url``, ``create clusterrole
--aggregation-rule``, ``create rolebinding|clusterrolebinding --user --group
--serviceaccount``.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

_RBAC = "rbac.authorization.k8s.io/v1"

MESSAGES: dict[str, Message] = {
    "Role": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule"),
    },
    "ClusterRole": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule"),
        3: ("aggregationRule", "AggregationRule"),
    },
    "PolicyRule": {
        1: ("verbs", "[]string"),
        2: ("apiGroups", "[]string"),
        3: ("resources", "[]string"),
        4: ("resourceNames", "[]string"),
        5: ("nonResourceURLs", "[]string"),
    },
    "AggregationRule": {
        1: ("clusterRoleSelectors", "[]LabelSelector"),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "Subject": {
        1: ("kind", "string"),
        2: ("apiGroup", "string"),
        3: ("name", "string"),
        4: ("namespace", "string"),
    },
    "RoleRef": {
        1: ("apiGroup", "string"),
        2: ("kind", "string"),
        3: ("name", "string"),
    },
}

KINDS: dict[tuple[str, str], str] = {
    (_RBAC, "Role"): "Role",
    (_RBAC, "ClusterRole"): "ClusterRole",
    (_RBAC, "RoleBinding"): "RoleBinding",
    (_RBAC, "ClusterRoleBinding"): "ClusterRoleBinding",
}
