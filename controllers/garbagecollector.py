"""The garbage collector: ownerReferences turned into cascading deletion.

It follows ``pkg/controller/garbagecollector`` with the informer caches as
the ownership graph (``machinery.allkinds``).  Work items are object uids,
and one reconcile plays both of upstream's roles for the object:

* as a *dependent*: if every owner is gone (confirmed by uid with a live
  GET, since a cache can lag behind a fresh owner) or is waiting for its
  dependents (foreground deletion), delete it; owners that are gone or
  waiting are dropped from its references if a live owner remains;
* as an *owner* being deleted with the ``orphan`` finalizer: strip its
  reference from every dependent, then remove the finalizer;
* as an *owner* being deleted with ``foregroundDeletion``: have its
  dependents deleted (each dependent's own reconcile decides how), and once
  none that blocks owner deletion remains, remove the finalizer so the API
  server lets it go.

Deletes carry a uid precondition so a recreated namesake is never hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controllers.base import QueueController, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.allkinds import AllKinds, Found, owner_uids, uid_of
from machinery.informer import DeletedFinalStateUnknown
from machinery.meta import is_being_deleted
from machinery.reconciler import Requeue
from machinery.resources import Resource, by_kind

__all__ = ["GarbageCollector", "FOREGROUND", "ORPHAN"]

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_GC_FINALIZERS = (FOREGROUND, ORPHAN)


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _finalizers(obj: Obj) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _refs(obj: Obj) -> list[dict[str, Any]]:
    return [r for r in _meta(obj).get("ownerReferences") or () if isinstance(r, dict)]


def _blocks(dependent: Obj, owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in _refs(dependent))


def _gc_pending(obj: Obj) -> bool:
    return is_being_deleted(obj) and any(f in _GC_FINALIZERS for f in _finalizers(obj))


@dataclass
class _Owners:
    """A dependent's owners sorted by what they mean for it."""

    solid: list[dict[str, Any]] = field(default_factory=list)
    dangling: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)


class GarbageCollector(QueueController):
    """Keyed by object uid, over informers of every kind."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.kinds = AllKinds(ctx.informers)
        super().__init__("garbagecollector", self.kinds.informers, clock=ctx.clock)
        self.kinds.add_handler(self._added, self._updated, self._deleted)

    # -- handlers: enqueue uids only ----------------------------------------------------

    def _added(self, obj: Obj) -> None:
        if _refs(obj) or _gc_pending(obj):
            self.queue.add(uid_of(obj))

    def _updated(self, old: Obj, new: Obj) -> None:
        if uid_of(old) != uid_of(new):  # deleted and recreated between two observations
            self._deleted(old)
            self._added(new)
            return
        if _gc_pending(new):
            self.queue.add(uid_of(new))
        if _refs(old) != _refs(new):
            self.queue.add(uid_of(new))
            # an owner this object stopped naming (or blocking) may be free to go now
            for uid in set(owner_uids(old)):
                self.queue.add(uid)
        elif is_being_deleted(new) != is_being_deleted(old) and _refs(new):
            for uid in owner_uids(new):
                self.queue.add(uid)

    def _deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        gone = object_of(obj)
        uid = uid_of(gone)
        for dependent in self.kinds.dependents(uid):
            self.queue.add(uid_of(dependent.obj))
        for owner in owner_uids(gone):  # a foreground owner may be waiting on this one
            self.queue.add(owner)

    # -- reconcile ------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        found = self.kinds.find(key)
        if found is None:
            return None  # gone: its deletion already woke its owners and dependents
        obj = found.obj
        if is_being_deleted(obj):
            finalizers = _finalizers(obj)
            if ORPHAN in finalizers:
                await self._orphan_dependents(found)
            elif FOREGROUND in finalizers:
                await self._delete_dependents(found)
            return None
        if _refs(obj):
            await self._collect_if_unowned(found)
        return None

    async def _orphan_dependents(self, found: Found) -> None:
        """Strip this owner from every dependent, then let the owner go."""
        uid = uid_of(found.obj)
        for dependent in self.kinds.dependents(uid):
            kept = [r for r in _refs(dependent.obj) if r.get("uid") != uid]
            await self._patch_refs(dependent, kept)
        await self._remove_finalizer(found, ORPHAN)

    async def _delete_dependents(self, found: Found) -> None:
        """Foreground: every dependent is judged now; the owner waits for the blocking ones."""
        uid = uid_of(found.obj)
        dependents = self.kinds.dependents(uid)
        for dependent in dependents:
            if not is_being_deleted(dependent.obj):
                self.queue.add(uid_of(dependent.obj))
        if any(_blocks(d.obj, uid) for d in dependents):
            return  # each blocking dependent's deletion event brings this owner back
        await self._remove_finalizer(found, FOREGROUND)

    async def _collect_if_unowned(self, found: Found) -> None:
        obj = found.obj
        owners = await self._classify(found)
        if owners.solid:
            gone = {r["uid"] for r in owners.dangling + owners.waiting}
            if gone:
                await self._patch_refs(found, [r for r in _refs(obj) if r.get("uid") not in gone])
            return
        finalizers = _finalizers(obj)
        if owners.waiting and (self.kinds.dependents(uid_of(obj))
                               or any(r.get("blockOwnerDeletion") for r in owners.waiting)):
            policy = "Foreground"  # keep blocking the waiting owner until our dependents go
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self.log.info("deleting %s %s (owners gone or being deleted), propagation %s",
                      found.resource.kind, _describe(obj), policy)
        try:
            await self.client.delete(found.resource, _meta(obj)["name"], _meta(obj).get("namespace"),
                                     propagation_policy=policy,
                                     preconditions={"uid": uid_of(obj)})
        except (errors.NotFound, errors.Conflict):
            return  # already gone, or a namesake with another uid that is not ours to judge

    async def _classify(self, found: Found) -> _Owners:
        owners = _Owners()
        for ref in _refs(found.obj):
            owner = await self._owner(found, ref)
            if owner is None:
                owners.dangling.append(ref)
            elif is_being_deleted(owner) and FOREGROUND in _finalizers(owner):
                owners.waiting.append(ref)
            else:
                owners.solid.append(ref)
        return owners

    async def _owner(self, found: Found, ref: dict[str, Any]) -> Obj | None:
        """The owner a reference names, or ``None`` when it is verifiably absent."""
        resource = by_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        if resource is None:
            # A kind this cluster does not serve: never delete on a guess.
            return {"metadata": {"uid": ref.get("uid")}}
        namespace = _meta(found.obj).get("namespace")
        if resource.namespaced and not namespace:
            return None  # a cluster-scoped object cannot be owned by a namespaced one
        cached = self.kinds.find_in(resource, str(ref.get("uid")))
        if cached is not None:
            return cached
        return await self._live_owner(resource, ref, namespace if resource.namespaced else None)

    async def _live_owner(self, resource: Resource, ref: dict[str, Any],
                          namespace: str | None) -> Obj | None:
        try:
            live = await self.client.get(resource, str(ref.get("name")), namespace)
        except errors.NotFound:
            return None
        return live if uid_of(live) == ref.get("uid") else None

    async def _patch_refs(self, found: Found, refs: list[dict[str, Any]]) -> None:
        meta = _meta(found.obj)
        patch = {"metadata": {"ownerReferences": refs or None,
                              "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self.client.patch(found.resource, meta["name"], patch, meta.get("namespace"))
        except errors.NotFound:
            return

    async def _remove_finalizer(self, found: Found, finalizer: str) -> None:
        meta = _meta(found.obj)
        kept = [f for f in _finalizers(found.obj) if f != finalizer]
        patch = {"metadata": {"finalizers": kept or None,
                              "resourceVersion": meta.get("resourceVersion")}}
        self.log.info("removing finalizer %s from %s %s", finalizer, found.resource.kind,
                      _describe(found.obj))
        try:
            await self.client.patch(found.resource, meta["name"], patch, meta.get("namespace"))
        except errors.NotFound:
            return


def _describe(obj: Obj) -> str:
    meta = _meta(obj)
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))
