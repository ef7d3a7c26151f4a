"""The registry of message tables, one module per API area, and the kinds they decode.

``MESSAGES`` maps a message name to its table (see :mod:`..decode` for the
table format); ``KINDS`` maps a top-level ``(apiVersion, kind)`` to the
message its ``raw`` bytes hold. A name defined twice is an error at import,
so two areas cannot silently disagree about a shared message.
"""

from __future__ import annotations

from types import ModuleType

from ..decode import Message
from . import auth, containers, core, meta, networking, pods, policy, rbac, volumes, workloads

__all__ = ["MESSAGES", "KINDS"]

_AREAS: tuple[ModuleType, ...] = (meta, core, pods, containers, volumes, workloads, networking, policy, rbac, auth)


def _merge() -> tuple[dict[str, Message], dict[tuple[str, str], str]]:
    messages: dict[str, Message] = {}
    kinds: dict[tuple[str, str], str] = {}
    for area in _AREAS:
        for name, table in area.MESSAGES.items():
            if name in messages:
                raise ValueError(f"protobuf message {name} is defined twice ({area.__name__})")
            messages[name] = table
        kinds.update(getattr(area, "KINDS", {}))
    return messages, kinds


MESSAGES, KINDS = _merge()
