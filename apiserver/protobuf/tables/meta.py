"""Tables for apimachinery's ``meta/v1`` messages shared by every object.

Each number was read off kubectl 1.32's own protobuf output for objects
whose JSON form (``--dry-run=client -o json``) carried a known value at the
same place: ``name``/``namespace`` from ``create configmap -n``, labels from
``create deployment``, annotations from ``--save-config``, selectors from
``create pdb --selector='app in (x,y),!tier,env=prod'``, owner references
from ``create job --from=cronjob/...``.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES"]

MESSAGES: dict[str, Message] = {
    "ObjectMeta": {
        1: ("name", "string"),
        3: ("namespace", "string"),
        8: ("creationTimestamp", "Time"),
        11: ("labels", "map[string]string"),
        12: ("annotations", "map[string]string"),
        13: ("ownerReferences", "[]OwnerReference"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "*bool"),
    },
    "LabelSelector": {
        1: ("matchLabels", "map[string]string"),
        2: ("matchExpressions", "[]LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", "[]string"),
    },
}
