"""From a child object to the owners whose sync it concerns.

Every controller that owns children (ReplicaSets own pods, Deployments own
ReplicaSets) turns a child event into owner keys the same two ways, as
``pkg/controller`` does with ``resolveControllerRef`` and
``getPodReplicaSets``: through the child's controller reference -- which
counts only if it names a live owner of the right kind with the same uid,
since a namesake recreated since is a different object -- or, for an
orphan, through every owner whose selector might adopt it.
"""

from __future__ import annotations

from typing import Any

from machinery import errors
from machinery.informer import Informer
from machinery.meta import labels
from machinery.selectors import label_selector_from_dict

__all__ = ["resolve_controller_ref", "selects", "owners_selecting"]

Obj = dict[str, Any]


def resolve_controller_ref(owners: Informer, kind: str, namespace: str | None,
                           ref: Obj | None) -> Obj | None:
    """The cached owner ``ref`` names, if it is a ``kind`` with the same uid."""
    if ref is None or ref.get("kind") != kind:
        return None
    owner = owners.get(f"{namespace}/{ref.get('name')}")
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    return owner


def selects(owner: Obj, child: Obj) -> bool:
    """Whether the owner's (valid, non-empty) selector matches the child's labels."""
    try:
        selector = label_selector_from_dict((owner.get("spec") or {}).get("selector"))
    except errors.Invalid:
        return False
    return not selector.empty and selector.matches(labels(child))


def owners_selecting(owners: Informer, child: Obj) -> list[Obj]:
    """The cached owners in the child's namespace whose selector matches it."""
    return [owner for owner in owners.list(child["metadata"].get("namespace"))
            if selects(owner, child)]
