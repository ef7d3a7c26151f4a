"""Tables for pod templates: ``PodTemplateSpec``, ``PodSpec``, ``Container``.

Every workload generator (``create deployment|job|cronjob``) embeds one.
Numbers come from kubectl 1.32's protobuf for those commands, with images,
ports, commands and restart policies set by flags and matched against the
same objects printed as JSON.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES"]

MESSAGES: dict[str, Message] = {
    "PodTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
    },
    "PodSpec": {
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
    },
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "[]string"),
        6: ("ports", "[]ContainerPort"),
        8: ("resources", "ResourceRequirements"),
    },
    "ContainerPort": {
        3: ("containerPort", "*int32"),
    },
    "ResourceRequirements": {},
}
