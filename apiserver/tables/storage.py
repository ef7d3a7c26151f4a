"""Tables for storage kinds: persistent volumes, claims and storage classes.

Access modes print in kubectl's short forms (RWO, ROX, RWX, RWOP) and the
storage class honours the beta annotation that predates ``storageClassName``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.columns import Cell, Column, Printer, age_column, field_doc, name_column
from apiserver.tables.format import UNSET, age_of, dig, name_of

__all__ = ["PRINTERS", "access_modes"]

_PV = "io.k8s.api.core.v1.PersistentVolume"
_PVC = "io.k8s.api.core.v1.PersistentVolumeClaim"
_SC = "io.k8s.api.storage.v1.StorageClass"
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_DEFAULT_CLASS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")
_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list[str] | None) -> str:
    present = set(modes or ())
    return ",".join(short for mode, short in _MODES if mode in present)


def _storage_class(obj: dict[str, Any]) -> str:
    annotations = dig(obj, "metadata", "annotations", default={}) or {}
    if _BETA_CLASS in annotations:
        return str(annotations[_BETA_CLASS])
    return str(dig(obj, "spec", "storageClassName", default=""))


def _terminating_or(obj: dict[str, Any]) -> str:
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return str(dig(obj, "status", "phase", default=""))


def _persistent_volume(obj: dict[str, Any], now: datetime) -> list[Cell]:
    claim = dig(obj, "spec", "claimRef")
    return [
        name_of(obj),
        str(dig(obj, "spec", "capacity", "storage", default="0")),
        access_modes(dig(obj, "spec", "accessModes")),
        str(dig(obj, "spec", "persistentVolumeReclaimPolicy", default="")),
        _terminating_or(obj),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        _storage_class(obj),
        dig(obj, "spec", "volumeAttributesClassName") or UNSET,
        str(dig(obj, "status", "reason", default="")),
        age_of(obj, now),
        dig(obj, "spec", "volumeMode") or UNSET,
    ]


def _persistent_volume_claim(obj: dict[str, Any], now: datetime) -> list[Cell]:
    bound = dig(obj, "spec", "volumeName") or ""
    capacity = str(dig(obj, "status", "capacity", "storage", default="0")) if bound else ""
    modes = access_modes(dig(obj, "status", "accessModes")) if bound else ""
    return [
        name_of(obj),
        _terminating_or(obj),
        str(bound),
        capacity,
        modes,
        _storage_class(obj),
        dig(obj, "spec", "volumeAttributesClassName") or UNSET,
        age_of(obj, now),
        dig(obj, "spec", "volumeMode") or UNSET,
    ]


def _storage_class_row(obj: dict[str, Any], now: datetime) -> list[Cell]:
    annotations = dig(obj, "metadata", "annotations", default={}) or {}
    name = name_of(obj)
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS):
        name += " (default)"
    return [
        name,
        str(obj.get("provisioner") or ""),
        str(obj.get("reclaimPolicy") or "Delete"),
        str(obj.get("volumeBindingMode") or "Immediate"),
        bool(obj.get("allowVolumeExpansion")),
        age_of(obj, now),
    ]


PRINTERS = {
    ("", "persistentvolumes"): Printer(
        (
            name_column(),
            Column("Capacity", description=field_doc(_PV, "spec", "capacity")),
            Column("Access Modes", description=field_doc(_PV, "spec", "accessModes")),
            Column("Reclaim Policy", description=field_doc(_PV, "spec", "persistentVolumeReclaimPolicy")),
            Column("Status", description=field_doc(_PV, "status", "phase")),
            Column("Claim", description=field_doc(_PV, "spec", "claimRef")),
            Column("StorageClass", description="StorageClass of the pv"),
            Column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
            Column("Reason", description=field_doc(_PV, "status", "reason")),
            age_column(),
            Column("VolumeMode", description=field_doc(_PV, "spec", "volumeMode"), priority=1),
        ),
        _persistent_volume,
    ),
    ("", "persistentvolumeclaims"): Printer(
        (
            name_column(),
            Column("Status", description=field_doc(_PVC, "status", "phase")),
            Column("Volume", description=field_doc(_PVC, "spec", "volumeName")),
            Column("Capacity", description=field_doc(_PVC, "status", "capacity")),
            Column("Access Modes", description=field_doc(_PVC, "status", "accessModes")),
            Column("StorageClass", description="StorageClass of the pvc"),
            Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
            age_column(),
            Column("VolumeMode", description=field_doc(_PVC, "spec", "volumeMode"), priority=1),
        ),
        _persistent_volume_claim,
    ),
    ("storage.k8s.io", "storageclasses"): Printer(
        (
            name_column(),
            Column("Provisioner", description=field_doc(_SC, "provisioner")),
            Column("ReclaimPolicy", description=field_doc(_SC, "reclaimPolicy")),
            Column("VolumeBindingMode", description=field_doc(_SC, "volumeBindingMode")),
            Column("AllowVolumeExpansion", "boolean", field_doc(_SC, "allowVolumeExpansion")),
            age_column(),
        ),
        _storage_class_row,
    ),
}
