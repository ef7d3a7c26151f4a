"""Adoption and release of children through ``ownerReferences``.

A workload owns the objects its selector matches, marked by one
``controller: true`` owner reference.  Kubernetes (``ControllerRefManager``
in ``pkg/controller/controller_ref_manager.go``) settles ownership before
every sync with three rules, kept here for every workload controller:

* a child controlled by someone else is never touched;
* an orphan that matches the selector is adopted -- but only after a fresh
  read of the owner from the API shows it is the same object (same uid) and
  not being deleted, since the cache may be stale and adopting for a dead
  owner would get the child garbage-collected;
* a child we control that no longer matches is released (our reference is
  removed), unless we are being deleted ourselves.

Both writes are strategic-merge patches carrying the child's uid, so they
touch only the reference in question.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from machinery import errors
from machinery.client import ApiClient, ResourceRef
from machinery.meta import get_controller_of, is_being_deleted, owner_reference
from machinery.selectors import LabelSelector

__all__ = ["AdoptionRefused", "ControllerRefManager", "recheck_owner"]

Obj = dict[str, Any]


class AdoptionRefused(Exception):
    """The owner turned out to be gone or going: it must not adopt anything."""


def recheck_owner(client: ApiClient, resource: ResourceRef, owner: Obj) -> Callable[[], Awaitable[None]]:
    """A check, for ``can_adopt``, that the live owner is the cached one and not being deleted."""
    meta = owner["metadata"]

    async def check() -> None:
        fresh = await client.get(resource, meta["name"], meta.get("namespace"))
        fresh_meta = fresh.get("metadata") or {}
        if fresh_meta.get("uid") != meta.get("uid"):
            raise AdoptionRefused(f"original {meta.get('namespace')}/{meta['name']} is gone: "
                                  f"got uid {fresh_meta.get('uid')}, wanted {meta.get('uid')}")
        if fresh_meta.get("deletionTimestamp"):
            raise AdoptionRefused(f"{meta.get('namespace')}/{meta['name']} has just been deleted "
                                  f"at {fresh_meta['deletionTimestamp']}")

    return check


class ControllerRefManager:
    """Claims children for one owner object during one sync."""

    def __init__(self, client: ApiClient, owner: Obj, selector: LabelSelector,
                 child_resource: ResourceRef, can_adopt: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.owner = owner
        self.selector = selector
        self.child_resource = child_resource
        self._can_adopt = can_adopt
        self._adopt_checked: Exception | None | bool = False

    @property
    def owner_uid(self) -> str:
        return str(self.owner["metadata"]["uid"])

    async def claim(self, children: Iterable[Obj],
                    match: Callable[[Obj], bool] | None = None) -> list[Obj]:
        """The children this owner controls after adopting and releasing.

        Every child is tried; the first error is raised after the others were
        handled, so one failing patch does not stall the rest.
        """
        matches = match or (lambda obj: self.selector.matches(
            (obj.get("metadata") or {}).get("labels")))
        claimed: list[Obj] = []
        failures: list[Exception] = []
        for child in children:
            try:
                if await self._claim_one(child, matches):
                    claimed.append(child)
            except (errors.ApiError, AdoptionRefused) as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        return claimed

    async def _claim_one(self, child: Obj, matches: Callable[[Obj], bool]) -> bool:
        ref = get_controller_of(child)
        owner_deleting = is_being_deleted(self.owner)
        if ref is not None:
            if ref.get("uid") != self.owner_uid:
                return False
            if matches(child):
                return True
            if owner_deleting:
                return False
            await self.release(child)
            return False
        if owner_deleting or not matches(child) or is_being_deleted(child):
            return False
        owner_ns = self.owner["metadata"].get("namespace")
        if owner_ns and owner_ns != child["metadata"].get("namespace"):
            return False
        return await self.adopt(child)

    async def _check_can_adopt(self) -> None:
        if self._adopt_checked is False:
            try:
                await self._can_adopt()
                self._adopt_checked = None
            except Exception as exc:
                self._adopt_checked = exc
        if isinstance(self._adopt_checked, Exception):
            raise self._adopt_checked

    async def adopt(self, child: Obj) -> bool:
        await self._check_can_adopt()
        meta = child["metadata"]
        patch = {"metadata": {"ownerReferences": [owner_reference(self.owner)],
                              "uid": meta.get("uid")}}
        try:
            await self.client.patch(self.child_resource, meta["name"], patch, meta.get("namespace"),
                                    patch_type="strategic")
        except errors.NotFound:
            return False  # gone already: nothing to own
        return True

    async def release(self, child: Obj) -> None:
        meta = child["metadata"]
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": self.owner_uid}],
                              "uid": meta.get("uid")}}
        try:
            await self.client.patch(self.child_resource, meta["name"], patch, meta.get("namespace"),
                                    patch_type="strategic")
        except (errors.NotFound, errors.Invalid):
            return  # gone, or replaced by a namesake (uid precondition): nothing to release
