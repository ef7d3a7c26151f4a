"""Tables for the review and token kinds of ``kubectl auth`` and ``kubectl create token``.

Observed with ``kubectl auth can-i <verb> <resource>.<group>/<name>
--subresource -n <ns>``, ``auth can-i <verb> /<path>``, ``auth can-i
--list -n <ns>``, ``auth whoami`` and ``create token --audience --duration
--bound-object-kind --bound-object-name --bound-object-uid``: each flag's
value was found at one field number. These commands have no ``--dry-run``,
so the JSON names are those the flags fill. Their statuses are answers
the server computes; a request carries only zeros there.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
        3: ("status", "SubjectAccessReviewStatus"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {
        1: ("path", "string"),
        2: ("verb", "string"),
    },
    "SubjectAccessReviewStatus": {},
    "SelfSubjectRulesReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectRulesReviewSpec"),
        3: ("status", "SubjectRulesReviewStatus"),
    },
    "SelfSubjectRulesReviewSpec": {
        1: ("namespace", "string"),
    },
    "SubjectRulesReviewStatus": {},
    "SelfSubjectReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("status", "SelfSubjectReviewStatus"),
    },
    "SelfSubjectReviewStatus": {},
    "TokenRequest": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "TokenRequestSpec"),
        3: ("status", "TokenRequestStatus"),
    },
    "TokenRequestSpec": {
        1: ("audiences", "[]string"),
        3: ("boundObjectRef", "BoundObjectReference"),
        4: ("expirationSeconds", "*int64"),
    },
    "BoundObjectReference": {
        1: ("kind", "string"),
        2: ("apiVersion", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
    },
    "TokenRequestStatus": {},
}

KINDS: dict[tuple[str, str], str] = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1beta1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1alpha1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
}
