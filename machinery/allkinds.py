"""One informer per kind, searchable by uid and by owner uid.

The garbage collector reasons about ownerReferences across every kind at
once: "is the owner with this uid still there?", "who names this uid as an
owner?".  Kubernetes' GraphBuilder keeps a separate graph for that; here the
informer caches already hold every object, so two indexes on each cache
(object uid, and the uids an object names as owners) answer both questions
without a second copy of the world that could drift from the caches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from machinery.informer import DeletedFinalStateUnknown, Informer, SharedInformerFactory
from machinery.resources import RESOURCES, Resource

__all__ = [
    "UID_INDEX",
    "OWNER_UID_INDEX",
    "uid_index",
    "owner_uid_index",
    "owner_uids",
    "uid_of",
    "Found",
    "AllKinds",
    "watchable",
]

Obj = dict[str, Any]
UID_INDEX = "uid"
OWNER_UID_INDEX = "ownerUID"


def uid_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def owner_uids(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return [str(ref["uid"]) for ref in refs if isinstance(ref, dict) and ref.get("uid")]


def uid_index(obj: Obj) -> list[str]:
    uid = uid_of(obj)
    return [uid] if uid else []


def owner_uid_index(obj: Obj) -> list[str]:
    return owner_uids(obj)


def watchable(resources: Iterable[Resource] = RESOURCES) -> list[Resource]:
    """Kinds that can be listed and watched (all of k8py's, but the table decides)."""
    return [r for r in resources if "list" in r.verbs and "watch" in r.verbs]


@dataclass(frozen=True)
class Found:
    """A cached object together with the kind it was found under."""

    resource: Resource
    obj: Obj


class AllKinds:
    """Informers from a shared factory for every watchable kind, with uid indexes."""

    def __init__(self, factory: SharedInformerFactory,
                 resources: Iterable[Resource] | None = None) -> None:
        self.by_resource: dict[Resource, Informer] = {}
        for resource in watchable(RESOURCES if resources is None else resources):
            informer = factory.informer(resource)
            for name, fn in ((UID_INDEX, uid_index), (OWNER_UID_INDEX, owner_uid_index)):
                try:
                    informer.add_indexer(name, fn)
                except ValueError:
                    pass  # another user of the shared informer added it already
            self.by_resource[resource] = informer

    @property
    def informers(self) -> list[Informer]:
        return list(self.by_resource.values())

    def add_handler(self, on_add: Callable[[Obj], None],
                    on_update: Callable[[Obj, Obj], None],
                    on_delete: Callable[[Obj | DeletedFinalStateUnknown], None]) -> None:
        for informer in self.by_resource.values():
            informer.add_handler(on_add, on_update, on_delete)

    def has_synced(self) -> bool:
        return all(informer.has_synced() for informer in self.by_resource.values())

    def find(self, uid: str) -> Found | None:
        """The cached object with this uid, whatever its kind."""
        for resource, informer in self.by_resource.items():
            for obj in informer.indexer.by_index(UID_INDEX, uid):
                return Found(resource, obj)
        return None

    def find_in(self, resource: Resource, uid: str) -> Obj | None:
        informer = self.by_resource.get(resource)
        if informer is None:
            return None
        for obj in informer.indexer.by_index(UID_INDEX, uid):
            return obj
        return None

    def dependents(self, uid: str) -> list[Found]:
        """Every cached object naming ``uid`` in its ownerReferences."""
        return list(self._dependents(uid))

    def _dependents(self, uid: str) -> Iterator[Found]:
        for resource, informer in self.by_resource.items():
            for obj in informer.indexer.by_index(OWNER_UID_INDEX, uid):
                yield Found(resource, obj)
