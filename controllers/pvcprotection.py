"""The PVC protection controller: a claim in use is not deleted under its pod.

Every PersistentVolumeClaim carries the ``kubernetes.io/pvc-protection``
finalizer (the API server adds it on create, as upstream's
StorageObjectInUseProtection admission does; this controller adds it to any
claim that lacks it).  Deleting a claim then only marks it; the finalizer
is removed -- letting the deletion finish and the volume be released --
once no pod that could still be using the claim is left, i.e. no scheduled
pod that references it and has not finished (``pkg/controller/volume/
pvcprotection``).  A pod force-deleted with a zero grace period counts as
gone.  Before giving the claim up, the pods are listed live from the API
server, since a cache that has not yet seen a new pod would let its data
disappear.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, ensure_index, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import deepcopy_json, is_being_deleted, pod_is_terminal
from machinery.reconciler import Requeue

__all__ = ["PVCProtectionController", "PVC_PROTECTION", "CLAIM_INDEX", "claim_names",
           "claim_index", "pod_uses_claim"]

Obj = dict[str, Any]

PVC_PROTECTION = "kubernetes.io/pvc-protection"
CLAIM_INDEX = "pvcKey"


def claim_names(pod: Obj) -> list[str]:
    """The claims a pod's volumes name (ephemeral volumes as ``<pod>-<volume>``)."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        source = volume.get("persistentVolumeClaim")
        if source and source.get("claimName"):
            names.append(str(source["claimName"]))
        elif volume.get("ephemeral") is not None:
            names.append(f"{pod['metadata']['name']}-{volume.get('name')}")
    return names


def claim_index(pod: Obj) -> list[str]:
    namespace = (pod.get("metadata") or {}).get("namespace")
    return [f"{namespace}/{name}" for name in claim_names(pod)]


def _shut_down(pod: Obj) -> bool:
    """Finished, or force-deleted: a kubelet will not (or no longer) use its volumes."""
    meta = pod.get("metadata") or {}
    forced = bool(meta.get("deletionTimestamp")) and meta.get("deletionGracePeriodSeconds") == 0
    return pod_is_terminal(pod) or forced


def pod_uses_claim(pod: Obj, claim_name: str) -> bool:
    """Whether the pod may be using the claim: scheduled, not shut down, and naming it."""
    return (bool((pod.get("spec") or {}).get("nodeName")) and not _shut_down(pod)
            and claim_name in claim_names(pod))


class PVCProtectionController(QueueController):
    """Adds the protection finalizer to claims and removes it once they are unused."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.claims = ctx.informers.informer("persistentvolumeclaims")
        self.pods = ctx.informers.informer("pods")
        super().__init__("pvc-protection", [self.claims, self.pods], clock=ctx.clock)
        self.client = ctx.client
        ensure_index(self.pods, CLAIM_INDEX, claim_index)
        self.claims.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)
        self.pods.add_handler(self._pod_changed, lambda old, new: self._pod_changed(new),
                              self._pod_changed)

    def _pod_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A pod that changed may have freed a claim that waits to be deleted."""
        for key in claim_index(object_of(obj)):
            claim = self.claims.get(key)
            if claim is not None and is_being_deleted(claim):
                self.queue.add(key)

    async def reconcile(self, key: str) -> Requeue | None:
        cached = self.claims.get(key)
        if cached is None:
            return None
        finalizers = list(cached["metadata"].get("finalizers") or [])
        if not is_being_deleted(cached):
            if PVC_PROTECTION not in finalizers:
                await self._set_finalizers(cached, finalizers + [PVC_PROTECTION])
            return None
        if PVC_PROTECTION not in finalizers or await self._in_use(cached):
            return None  # a pod event brings the claim back when that pod is done
        await self._set_finalizers(cached, [f for f in finalizers if f != PVC_PROTECTION])
        return None

    async def _in_use(self, claim: Obj) -> bool:
        name = claim["metadata"]["name"]
        if any(pod_uses_claim(p, name)
               for p in self.pods.indexer.by_index(CLAIM_INDEX, meta_key(claim))):
            return True
        pods, _ = await self.client.list_all("pods", claim["metadata"].get("namespace"))
        return any(pod_uses_claim(p, name) for p in pods)

    async def _set_finalizers(self, claim: Obj, finalizers: list[str]) -> None:
        """A merge patch of the whole list, conditional on the version we decided from."""
        meta = claim["metadata"]
        patch = {"metadata": {"finalizers": finalizers or None,
                              "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self.client.patch("persistentvolumeclaims", meta["name"],
                                    deepcopy_json(patch), meta.get("namespace"))
        except errors.NotFound:
            return  # gone already: nothing left to protect
