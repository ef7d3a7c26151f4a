"""The PersistentVolume controller: binds claims to volumes, provisions, reclaims.

It follows ``pkg/controller/volume/persistentvolume``'s two loops, here one
queue with two kinds of keys:

* ``claim:<ns>/<name>`` -- an unbound claim gets the best matching volume
  (``match``) or, failing that, a new one from its StorageClass's
  provisioner when that is ``k8py.io/local-path`` (``localpath``); a bound
  claim has both sides of the binding made consistent (the volume's
  ``claimRef``, the claim's ``volumeName``, both phases ``Bound``), or goes
  ``Lost`` when its volume disappears.
* ``volume:<name>`` -- a volume without a claim is ``Available``; one whose
  claim is gone (confirmed with a live read, as a cache may lag a new claim)
  is ``Released`` and reclaimed: ``Retain`` keeps it and its data,
  ``Delete`` removes its folder and then the object.

On start it also makes sure the default StorageClass ``standard`` exists.
Binding writes go volume first, then claim, each idempotent, so a sync cut
short is finished by the next.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.manager import ControllerContext
from controllers.persistentvolume.localpath import (
    DEFAULT_ROOT, PROVISIONED_BY, PROVISIONER, LocalPathProvisioner,
)
from controllers.persistentvolume.match import (
    DEFAULT_CLASS_ANNOTATION, best_match, claim_class, claim_ref, default_class, mismatch,
    promised_to,
)
from machinery import errors
from machinery.events import NORMAL, WARNING
from machinery.informer import DeletedFinalStateUnknown, meta_key
from machinery.meta import deepcopy_json, format_time, is_being_deleted
from machinery.reconciler import Requeue

__all__ = ["PersistentVolumeController", "DEFAULT_CLASS", "default_storage_class",
           "BIND_COMPLETED", "BOUND_BY_CONTROLLER"]

Obj = dict[str, Any]

DEFAULT_CLASS = "standard"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def default_storage_class() -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS,
                         "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"}


def _annotations(obj: Obj) -> dict[str, str]:
    return obj["metadata"].setdefault("annotations", {})  # type: ignore[no-any-return]


class PersistentVolumeController(QueueController):
    """Keeps claims and volumes bound in pairs, creating and reclaiming volumes."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.volumes = ctx.informers.informer("persistentvolumes")
        self.claims = ctx.informers.informer("persistentvolumeclaims")
        self.classes = ctx.informers.informer("storageclasses")
        super().__init__("persistentvolume-binder", [self.volumes, self.claims, self.classes],
                         clock=ctx.clock)
        self.client = ctx.client
        self.wall = ctx.wall
        self.recorder = ctx.recorder("persistentvolume-controller")
        self.local = LocalPathProvisioner(str(ctx.option("volume_root", DEFAULT_ROOT)))
        self.volumes.add_handler(self._volume_changed, lambda old, new: self._volume_changed(new),
                                 self._volume_changed)
        self.claims.add_handler(self._claim_changed, lambda old, new: self._claim_changed(new),
                                self._claim_deleted)
        self.classes.add_handler(self._class_added, None, None)
        self.queue.add(f"storageclass:{DEFAULT_CLASS}")

    # -- event handlers ------------------------------------------------------------

    def _volume_changed(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        volume = object_of(obj)
        self.queue.add(f"volume:{volume['metadata']['name']}")
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(f"claim:{ref.get('namespace')}/{ref.get('name')}")

    def _claim_changed(self, claim: Obj) -> None:
        self.queue.add(f"claim:{meta_key(claim)}")

    def _claim_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        claim = object_of(obj)
        uid = claim["metadata"].get("uid")
        for volume in self.volumes.list():
            if ((volume.get("spec") or {}).get("claimRef") or {}).get("uid") == uid:
                self.queue.add(f"volume:{volume['metadata']['name']}")

    def _class_added(self, _: Obj) -> None:
        """A new class may let waiting claims be provisioned."""
        for claim in self.claims.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self._claim_changed(claim)

    # -- reconcile -----------------------------------------------------------------

    async def reconcile(self, key: str) -> Requeue | None:
        kind, _, name = key.partition(":")
        if kind == "claim":
            await self._sync_claim(name)
        elif kind == "volume":
            await self._sync_volume(name)
        elif kind == "storageclass":
            await self._ensure_default_class()
        return None

    async def _ensure_default_class(self) -> None:
        if self.classes.get(DEFAULT_CLASS) is not None:
            return
        try:
            await self.client.create("storageclasses", default_storage_class())
        except errors.AlreadyExists:
            pass  # the cache had not caught up

    # -- claims ------------------------------------------------------------------------

    async def _sync_claim(self, key: str) -> None:
        cached = self.claims.get(key)
        if cached is None or is_being_deleted(cached):
            return  # a going claim stays bound; its volume is released once it is gone
        claim = deepcopy_json(cached)
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            await self._sync_bound_claim(claim, str(volume_name))
            return
        class_name = claim_class(claim, default_class(self.classes.list()))
        volume = best_match(claim, self.volumes.list(), class_name)
        if volume is not None:
            await self._bind(deepcopy_json(volume), claim)
            return
        storage_class = self.classes.get(class_name) if class_name else None
        if storage_class is not None and storage_class.get("provisioner") == PROVISIONER:
            await self._provision(claim, storage_class)
            return
        if storage_class is not None:
            self.recorder.event(claim, NORMAL, "ExternalProvisioning",
                                "Waiting for a volume to be created either by the external "
                                f"provisioner '{storage_class.get('provisioner')}' or manually "
                                "by the system administrator.")
        elif class_name:
            self.recorder.event(claim, WARNING, "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{class_name}" not found')
        else:
            self.recorder.event(claim, NORMAL, "FailedBinding", "no persistent volumes available "
                                "for this claim and no storage class is set")
        await self._claim_phase(claim, "Pending")

    async def _sync_bound_claim(self, claim: Obj, volume_name: str) -> None:
        volume = self.volumes.get(volume_name)
        bound_before = _annotations(claim).get(BIND_COMPLETED) == "yes"
        if volume is None:
            if bound_before:
                if (claim.get("status") or {}).get("phase") != "Lost":
                    self.recorder.event(claim, WARNING, "ClaimLost", "Bound claim has lost its "
                                        "PersistentVolume. Data on the volume is lost!")
                await self._claim_phase(claim, "Lost")
            else:
                await self._claim_phase(claim, "Pending")  # waiting for the named volume
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref and not promised_to(volume, claim):
            if bound_before:
                self.recorder.event(claim, WARNING, "ClaimMisbound", "Two claims are bound to "
                                    "the same volume, this one is bound incorrectly")
                await self._claim_phase(claim, "Lost")
            return
        if not ref:
            why = mismatch(volume, claim, claim_class(claim, default_class(self.classes.list())))
            if why is not None:
                self.recorder.event(claim, WARNING, "VolumeMismatch",
                                    f"Cannot bind to requested volume \"{volume_name}\": {why}")
                await self._claim_phase(claim, "Pending")
                return
        await self._bind(deepcopy_json(volume), claim)

    async def _provision(self, claim: Obj, storage_class: Obj) -> None:
        volume = self.local.volume_for(claim, storage_class)
        name = volume["metadata"]["name"]
        if self.volumes.get(name) is None:
            await self.local.make_folder(volume)
            try:
                await self.client.create("persistentvolumes", volume)
            except errors.AlreadyExists:
                pass  # an earlier sync made it; the cache will show it
            except errors.ApiError as exc:
                self.recorder.event(claim, WARNING, "ProvisioningFailed",
                                    f"Failed to provision volume with StorageClass "
                                    f"\"{storage_class['metadata']['name']}\": {exc.message}")
                raise
            else:
                self.recorder.event(claim, NORMAL, "ProvisioningSucceeded",
                                    f"Successfully provisioned volume {name} using {PROVISIONER}")
        await self._claim_phase(claim, "Pending")

    async def _bind(self, volume: Obj, claim: Obj) -> None:
        """Make both sides point at each other and say Bound; each write only if needed."""
        if (volume["spec"].get("claimRef") or {}).get("uid") != claim["metadata"].get("uid"):
            if not volume["spec"].get("claimRef"):
                _annotations(volume)[BOUND_BY_CONTROLLER] = "yes"
            volume["spec"]["claimRef"] = claim_ref(claim)
            volume = await self.client.update("persistentvolumes", volume)
        await self._volume_phase(volume, "Bound")
        annotations = _annotations(claim)
        if (claim["spec"].get("volumeName") != volume["metadata"]["name"]
                or annotations.get(BIND_COMPLETED) != "yes"):
            if claim["spec"].get("volumeName") != volume["metadata"]["name"]:
                annotations[BOUND_BY_CONTROLLER] = "yes"
            claim["spec"]["volumeName"] = volume["metadata"]["name"]
            annotations[BIND_COMPLETED] = "yes"
            claim = await self.client.update("persistentvolumeclaims", claim)
        status = dict(claim.get("status") or {})
        wanted = {**status, "phase": "Bound",
                  "accessModes": list(volume["spec"].get("accessModes") or []),
                  "capacity": dict(volume["spec"].get("capacity") or {})}
        if wanted != status:
            claim["status"] = wanted
            await self.client.update_status("persistentvolumeclaims", claim)

    async def _claim_phase(self, claim: Obj, phase: str) -> None:
        status = claim.get("status") or {}
        if status.get("phase") == phase:
            return
        claim["status"] = {**status, "phase": phase}
        await self.client.update_status("persistentvolumeclaims", claim)

    # -- volumes -----------------------------------------------------------------------

    async def _volume_phase(self, volume: Obj, phase: str, message: str | None = None) -> Obj:
        status = volume.get("status") or {}
        if status.get("phase") == phase and status.get("message") == message:
            return volume
        new: Obj = {"phase": phase, "lastPhaseTransitionTime": format_time(self.wall())}
        if message:
            new["message"] = message
        volume["status"] = new
        return await self.client.update_status("persistentvolumes", volume)

    async def _sync_volume(self, name: str) -> None:
        cached = self.volumes.get(name)
        if cached is None or is_being_deleted(cached):
            return
        volume = deepcopy_json(cached)
        ref = volume["spec"].get("claimRef")
        if not ref or not ref.get("uid"):
            await self._volume_phase(volume, "Available")
            return
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is None or claim["metadata"].get("uid") != ref.get("uid"):
            claim = await self._live_claim(ref)
        if claim is not None and claim["metadata"].get("uid") == ref.get("uid"):
            await self._sync_claimed_volume(volume, claim)
            return
        await self._release(volume)

    async def _live_claim(self, ref: Obj) -> Obj | None:
        try:
            return await self.client.get("persistentvolumeclaims", str(ref.get("name")),
                                         ref.get("namespace"))
        except errors.NotFound:
            return None

    async def _sync_claimed_volume(self, volume: Obj, claim: Obj) -> None:
        bound_to = (claim.get("spec") or {}).get("volumeName")
        if not bound_to:
            # Provisioned for (or promised to) the claim, whose side is still to do.
            self.queue.add(f"claim:{meta_key(claim)}")
            return
        if bound_to == volume["metadata"]["name"]:
            await self._volume_phase(volume, "Bound")
            return
        # The claim went to another volume: free this one if we tied them.
        if _annotations(volume).get(BOUND_BY_CONTROLLER) == "yes":
            volume["spec"].pop("claimRef", None)
            _annotations(volume).pop(BOUND_BY_CONTROLLER, None)
            volume = await self.client.update("persistentvolumes", volume)
        await self._volume_phase(volume, "Available")

    async def _release(self, volume: Obj) -> None:
        """The claim is gone: mark the volume Released and apply its reclaim policy."""
        phase = (volume.get("status") or {}).get("phase")
        if phase == "Failed":
            return  # an admin has to look at it
        volume = await self._volume_phase(volume, "Released")
        policy = volume["spec"].get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        if policy != "Delete":
            self.recorder.event(volume, WARNING, "VolumeFailedRecycle",
                                f"reclaim policy {policy} is not supported")
            await self._volume_phase(volume, "Failed", f"reclaim policy {policy} is not supported")
            return
        ours = (_annotations(volume).get(PROVISIONED_BY) == PROVISIONER
                or self.local.owns(volume))
        if not ours:
            message = (f'error getting deleter volume plugin for volume "{volume["metadata"]["name"]}"'
                       ": no deletable volume plugin matched")
            self.recorder.event(volume, WARNING, "VolumeFailedDelete", message)
            await self._volume_phase(volume, "Failed", message)
            return
        try:
            await self.local.remove_folder(volume)
        except (OSError, ValueError) as exc:
            self.recorder.event(volume, WARNING, "VolumeFailedDelete", str(exc))
            await self._volume_phase(volume, "Failed", str(exc))
            return
        try:
            await self.client.delete("persistentvolumes", volume["metadata"]["name"],
                                     preconditions={"uid": volume["metadata"].get("uid")})
        except errors.NotFound:
            pass
