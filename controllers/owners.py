"""From a child object to the owners whose sync it concerns.

Every controller that owns children (ReplicaSets own pods, Deployments own
ReplicaSets) turns a child event into owner keys the same two ways, as
``pkg/controller`` does with ``resolveControllerRef`` and
``getPodReplicaSets``: through the child's controller reference -- which
counts only if it names a live owner of the right kind with the same uid,
since a namesake recreated since is a different object -- or, for an
orphan, through every owner whose selector might adopt it.  An update of a
child concerns, besides its current owner, the owner it just left, whose
count dropped (``updatePod`` in ``replica_set.go``).
"""

from __future__ import annotations

from typing import Any

from machinery import errors
from machinery.informer import Informer
from machinery.meta import get_controller_of, labels
from machinery.selectors import label_selector_from_dict

__all__ = ["resolve_controller_ref", "selects", "owners_selecting", "owners_of_update"]

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


def owners_of_update(owners: Informer, kind: str, old: Obj,
                     cur: Obj) -> tuple[list[Obj], Obj | None]:
    """The cached owners an update of a child concerns, in enqueue order, and its owner now.

    First the owner whose controller reference the child dropped or swapped
    (its count fell), then the owner that controls it now -- or, for an
    orphan whose labels or controller reference changed, every owner whose
    selector might adopt it.  The second item is the current owner, for
    callers that also wait on it (``minReadySeconds``).
    """
    namespace = cur["metadata"].get("namespace")
    old_ref, cur_ref = get_controller_of(old), get_controller_of(cur)
    ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
    concerned: list[Obj] = []
    if ref_changed and old_ref is not None:
        previous = resolve_controller_ref(owners, kind, namespace, old_ref)
        if previous is not None:
            concerned.append(previous)
    if cur_ref is not None:
        owner = resolve_controller_ref(owners, kind, namespace, cur_ref)
        if owner is not None:
            concerned.append(owner)
        return concerned, owner
    if ref_changed or labels(old) != labels(cur):
        concerned += owners_selecting(owners, cur)
    return concerned, None
