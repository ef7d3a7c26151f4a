"""What the StatefulSet and DaemonSet controllers share: pod event routing and status writes.

Both follow ``pkg/controller``'s pattern for pod-owning workloads: a pod
event is turned into the key of the workload that controls it (settling
that workload's expectations on the way), or -- for an orphan whose labels
changed -- into the keys of every workload whose selector might adopt it.
A pod that turned ready brings its owner back after ``minReadySeconds``,
when it will have become available.

Status is written through the ``status`` subresource only when it changed;
a conflict with our own previous write (the cache lags a moment) is
settled with one fresh read instead of a trip through the rate limiter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controllers.owners import owners_of_update, owners_selecting, resolve_controller_ref
from machinery import errors
from machinery.client import ApiClient
from machinery.informer import DeletedFinalStateUnknown, Informer, meta_key
from machinery.meta import get_controller_of, is_being_deleted, pod_is_ready

__all__ = ["PodOwnerEvents", "write_status"]

Obj = dict[str, Any]


class PodOwnerEvents:
    """Pod informer handlers for a controller whose owners are in ``owners``."""

    def __init__(self, kind: str, owners: Informer, enqueue: Callable[[str], None],
                 enqueue_after: Callable[[str, float], None], *,
                 created: Callable[[str], None], deleted: Callable[[str, Obj], None]) -> None:
        self.kind = kind
        self.owners = owners
        self.enqueue = enqueue
        self.enqueue_after = enqueue_after
        self.created = created
        self.deleted_of = deleted

    def owner_of(self, pod: Obj, ref: Obj | None = None) -> Obj | None:
        """The live owner a controller reference names (same uid), if it is ours."""
        return resolve_controller_ref(self.owners, self.kind, pod["metadata"].get("namespace"),
                                      ref if ref is not None else get_controller_of(pod))

    def _enqueue_matching(self, pod: Obj) -> None:
        for owner in owners_selecting(self.owners, pod):
            self.enqueue(meta_key(owner))

    def added(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self.deleted(pod)  # a restarted manager may see a pod already going
            return
        owner = self.owner_of(pod)
        if owner is not None:
            self.created(meta_key(owner))
            self.enqueue(meta_key(owner))
        elif get_controller_of(pod) is None:
            self._enqueue_matching(pod)

    def updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return  # a periodic resync, not a change
        if is_being_deleted(cur):
            self.deleted(cur)  # settling a deletion twice is harmless (tracked by pod key)
            return
        concerned, owner = owners_of_update(self.owners, self.kind, old, cur)
        for each in concerned:
            self.enqueue(meta_key(each))
        if owner is not None:
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not pod_is_ready(old) and pod_is_ready(cur):
                self.enqueue_after(meta_key(owner), min_ready + 1)

    def deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        owner = self.owner_of(pod)
        if owner is not None:
            self.deleted_of(meta_key(owner), pod)
            self.enqueue(meta_key(owner))


async def write_status(client: ApiClient, resource: str, obj: Obj, status: Obj) -> None:
    """Write ``status`` unless the object already has it; one fresh retry on a conflict."""
    if status == (obj.get("status") or {}):
        return
    obj["status"] = status
    try:
        await client.update_status(resource, obj)
    except errors.Conflict:
        fresh = await client.get(resource, obj["metadata"]["name"], obj["metadata"].get("namespace"))
        if fresh["metadata"].get("uid") != obj["metadata"].get("uid"):
            return  # replaced by a namesake: its own sync will follow
        if fresh["metadata"].get("generation") != obj["metadata"].get("generation"):
            raise  # the spec moved on: sync again from the cache
        fresh["status"] = status
        await client.update_status(resource, fresh)
    except errors.NotFound:
        return  # deleted meanwhile: nothing left to report on
