"""Tables for the ``core/v1`` kinds that kubectl's generators write.

Observed with ``kubectl create namespace|configmap|secret generic|tls|
docker-registry|service clusterip|nodeport|loadbalancer|externalname|
serviceaccount|quota`` using every flag, so each field carried a value that
could be found again in the same command's ``--dry-run=client -o json``.
Status messages are present on the wire but always zero in a create; their
tables stay empty, so any non-zero status value is refused rather than lost.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {},
    "NamespaceStatus": {},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map[string]string"),
        3: ("binaryData", "map[string]bytes"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map[string]bytes"),
        3: ("type", "string"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
    },
    "Service": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ServiceSpec"),
        3: ("status", "ServiceStatus"),
    },
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"),
        2: ("selector", "map[string]string"),
        3: ("clusterIP", "string"),
        4: ("type", "string"),
        10: ("externalName", "string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        3: ("port", "*int32"),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "int32"),
    },
    "ServiceStatus": {
        1: ("loadBalancer", "LoadBalancerStatus"),
    },
    "LoadBalancerStatus": {},
    "ResourceQuota": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ResourceQuotaSpec"),
        3: ("status", "ResourceQuotaStatus"),
    },
    "ResourceQuotaSpec": {
        1: ("hard", "map[string]Quantity"),
        2: ("scopes", "[]string"),
    },
    "ResourceQuotaStatus": {},
}

KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Service"): "Service",
    ("v1", "ResourceQuota"): "ResourceQuota",
}
