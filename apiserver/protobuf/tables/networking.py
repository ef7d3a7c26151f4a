"""Tables for ``networking.k8s.io/v1`` Ingress.

Observed with ``kubectl create ingress --class --rule='host/path*=svc:8080,tls=secret'
--rule='host/exact=svc:http' --default-backend=svc:80 --annotation=a=b``: a
prefix and an exact path, a numbered and a named service port, TLS hosts and
a default backend. ``IngressRule`` carries its ``http`` value inside an
embedded ``IngressRuleValue`` that JSON inlines, hence the empty JSON name.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "Ingress": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "IngressSpec"),
        3: ("status", "IngressStatus"),
    },
    "IngressSpec": {
        1: ("defaultBackend", "IngressBackend"),
        2: ("tls", "[]IngressTLS"),
        3: ("rules", "[]IngressRule"),
        4: ("ingressClassName", "*string"),
    },
    "IngressBackend": {
        4: ("service", "IngressServiceBackend"),
    },
    "IngressServiceBackend": {
        1: ("name", "string"),
        2: ("port", "ServiceBackendPort"),
    },
    "ServiceBackendPort": {
        1: ("name", "string"),
        2: ("number", "int32"),
    },
    "IngressTLS": {
        1: ("hosts", "[]string"),
        2: ("secretName", "string"),
    },
    "IngressRule": {
        1: ("host", "string"),
        2: ("", "IngressRuleValue"),
    },
    "IngressRuleValue": {
        1: ("http", "HTTPIngressRuleValue"),
    },
    "HTTPIngressRuleValue": {
        1: ("paths", "[]HTTPIngressPath"),
    },
    "HTTPIngressPath": {
        1: ("path", "string"),
        2: ("backend", "IngressBackend"),
        3: ("pathType", "*string"),
    },
    "IngressStatus": {
        1: ("loadBalancer", "IngressLoadBalancerStatus"),
    },
    "IngressLoadBalancerStatus": {},
}

KINDS: dict[tuple[str, str], str] = {
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
}
