"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

Both controllers (``pkg/controller/history`` upstream) snapshot their pod
template into an immutable ControllerRevision whenever it changes, label
every pod with the revision it was made from, and compare pods against the
newest revision to know which are out of date.  A revision's ``data`` is a
strategic-merge patch that replaces ``spec.template``; its name is the
owner's name plus a hash of that data, and its ``revision`` number orders
the history.  Going back to an older template reuses the old revision with
a fresh number instead of adding a duplicate.

Two owners' templates may hash alike: the name is then taken, the data
differs, and ``collisionCount`` (kept in the owner's status) is bumped and
mixed into the hash until a free name turns up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controllers.deployment.util import compute_hash
from controllers.refmanager import ControllerRefManager, recheck_owner
from machinery import errors
from machinery.client import ApiClient
from machinery.informer import Informer
from machinery.meta import deepcopy_json, get_controller_of, owner_reference
from machinery.selectors import LabelSelector

__all__ = [
    "REVISION_HASH_LABEL", "revision_name", "template_patch", "template_of", "new_revision",
    "equal_revision", "find_equal_revisions", "sort_revisions", "next_revision_number",
    "with_template", "RevisionHistory",
]

Obj = dict[str, Any]

REVISION_HASH_LABEL = "controller-revision-hash"
# Names are DNS subdomains (253): the prefix leaves room for "-" and a hash.
_MAX_PREFIX = 223


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hash_}"


def template_patch(owner: Obj) -> Obj:
    """The revision data of ``owner``: a patch that replaces its pod template."""
    template = deepcopy_json((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Obj) -> Obj:
    """The pod template a revision recorded."""
    template = deepcopy_json(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def with_template(owner: Obj, revision: Obj) -> Obj:
    """A copy of ``owner`` as it was at ``revision`` (``ApplyRevision``)."""
    copy = deepcopy_json(owner)
    copy.setdefault("spec", {})["template"] = template_of(revision)
    return copy


def new_revision(owner: Obj, number: int, collision_count: int) -> Obj:
    """An unsaved revision of ``owner``'s current template."""
    data = template_patch(owner)
    hash_ = compute_hash(data, collision_count)
    template_labels = ((owner["spec"].get("template") or {}).get("metadata") or {}).get(
        "labels") or {}
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": revision_name(owner["metadata"]["name"], hash_),
                     "namespace": owner["metadata"].get("namespace"),
                     "labels": {**template_labels, REVISION_HASH_LABEL: hash_},
                     "ownerReferences": [owner_reference(owner)]},
        "data": data, "revision": number,
    }


def equal_revision(a: Obj | None, b: Obj | None) -> bool:
    """Same recorded template.

    The hash labels are not compared: revisions hashed under different
    collision counts carry different hashes for the same data.
    """
    if a is None or b is None:
        return a is b
    return bool(a.get("data") == b.get("data"))


def find_equal_revisions(revisions: Iterable[Obj], needle: Obj) -> list[Obj]:
    return [r for r in revisions if equal_revision(r, needle)]


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revisions, key=lambda r: (int(r.get("revision") or 0),
                                            str(r["metadata"].get("creationTimestamp") or ""),
                                            r["metadata"]["name"]))


def next_revision_number(revisions: Iterable[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


class RevisionHistory:
    """The revisions of one kind of owner, read from a cache and written through the API."""

    def __init__(self, client: ApiClient, informer: Informer, owner_resource: str) -> None:
        self.client = client
        self.informer = informer
        self.owner_resource = owner_resource

    async def claim(self, owner: Obj, selector: LabelSelector) -> list[Obj]:
        """The owner's revisions, oldest first, after adopting orphans its selector matches."""
        namespace = owner["metadata"].get("namespace")
        uid = owner["metadata"].get("uid")
        candidates = [r for r in self.informer.list(namespace)
                      if get_controller_of(r) is None or (get_controller_of(r) or {}).get(
                          "uid") == uid]
        manager = ControllerRefManager(self.client, owner, selector, "controllerrevisions",
                                       recheck_owner(self.client, self.owner_resource, owner))
        return sort_revisions(await manager.claim(candidates))

    async def current(self, owner: Obj, revisions: list[Obj],
                      collision_count: int) -> tuple[Obj, int]:
        """The revision of the owner's template now, made or renumbered as needed.

        Returns it with the collision count the owner's status must carry.
        """
        candidate = new_revision(owner, next_revision_number(revisions), collision_count)
        equal = find_equal_revisions(revisions, candidate)
        if equal and revisions and equal_revision(revisions[-1], equal[-1]):
            return revisions[-1], collision_count
        if equal:
            return await self._renumber(equal[-1], int(candidate["revision"])), collision_count
        return await self._create(owner, candidate, collision_count)

    async def _renumber(self, revision: Obj, number: int) -> Obj:
        """Bring an old revision forward (a rollback to its template)."""
        fresh = deepcopy_json(revision)
        fresh["revision"] = number
        return await self.client.update("controllerrevisions", fresh)

    async def _create(self, owner: Obj, candidate: Obj, collision_count: int) -> tuple[Obj, int]:
        count = collision_count
        while True:
            attempt = new_revision(owner, int(candidate["revision"]), count)
            try:
                return await self.client.create("controllerrevisions", attempt), count
            except errors.AlreadyExists:
                meta = attempt["metadata"]
                existing = await self.client.get("controllerrevisions", meta["name"],
                                                 meta.get("namespace"))
                if equal_revision(existing, attempt) and (get_controller_of(existing) or {}).get(
                        "uid") == owner["metadata"].get("uid"):
                    return existing, count
                count += 1  # a namesake with other data: hash again

    async def truncate(self, revisions: list[Obj], live: set[str], limit: int) -> None:
        """Delete the oldest revisions that no pod or status names, beyond ``limit``."""
        dead = [r for r in sort_revisions(revisions) if r["metadata"]["name"] not in live]
        for revision in dead[:max(0, len(dead) - limit)]:
            meta = revision["metadata"]
            try:
                await self.client.delete("controllerrevisions", meta["name"], meta.get("namespace"),
                                         preconditions={"uid": meta.get("uid")})
            except (errors.NotFound, errors.Conflict):
                pass  # gone already, or a namesake we must not touch
