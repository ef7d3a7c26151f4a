"""Which PersistentVolume may satisfy a claim (``pv_controller``'s ``findBestMatchForClaim``).

A volume fits a claim when it is free (no claimRef) or already promised to
this claim, of the claim's storage class and volume mode, offers every
access mode the claim asks for, holds at least the requested storage and --
if the claim has a selector -- carries matching labels.  A volume promised
to the claim wins outright; otherwise the smallest fitting volume does, so
big volumes stay free for big claims.

A claim without ``storageClassName`` belongs to the default class (what the
DefaultStorageClass admission plugin would have written into it), or to the
empty class when there is no default.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from machinery import errors
from machinery.meta import is_being_deleted
from machinery.quantity import parse_quantity
from machinery.selectors import label_selector_from_dict

__all__ = ["DEFAULT_CLASS_ANNOTATION", "BETA_DEFAULT_CLASS_ANNOTATION", "default_class",
           "claim_class", "volume_class", "claim_request", "promised_to", "mismatch",
           "best_match", "claim_ref"]

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"


def default_class(classes: Iterable[Obj]) -> str:
    """The default StorageClass's name (the newest if several claim it), or ``""``."""
    defaults = [c for c in classes
                if any(((c.get("metadata") or {}).get("annotations") or {}).get(a) == "true"
                       for a in (DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION))]
    if not defaults:
        return ""
    newest = max(defaults, key=lambda c: (str(c["metadata"].get("creationTimestamp") or ""),
                                          c["metadata"]["name"]))
    return str(newest["metadata"]["name"])


def claim_class(claim: Obj, default: str) -> str:
    spec = claim.get("spec") or {}
    if "storageClassName" in spec and spec["storageClassName"] is not None:
        return str(spec["storageClassName"])
    return default


def volume_class(volume: Obj) -> str:
    return str((volume.get("spec") or {}).get("storageClassName") or "")


def _storage(resources: Obj | None) -> Decimal:
    value = (resources or {}).get("storage")
    try:
        return parse_quantity(value) if value is not None else Decimal(0)
    except ValueError:
        return Decimal(0)


def claim_request(claim: Obj) -> Decimal:
    return _storage(((claim.get("spec") or {}).get("resources") or {}).get("requests"))


def claim_ref(claim: Obj) -> Obj:
    """The reference a bound volume keeps to its claim."""
    meta = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
            "namespace": meta.get("namespace"), "name": meta["name"], "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion")}


def promised_to(volume: Obj, claim: Obj) -> bool:
    """The volume's claimRef names this claim (by name, and by uid when it has one)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    meta = claim["metadata"]
    if not ref or ref.get("name") != meta["name"] or ref.get("namespace") != meta.get(
            "namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def mismatch(volume: Obj, claim: Obj, class_name: str) -> str | None:
    """Why the volume cannot satisfy the claim, or ``None`` when it can."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if volume_class(volume) != class_name:
        return "storageClassName does not match"
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return "incompatible volumeMode"
    if not set(cspec.get("accessModes") or ()) <= set(vspec.get("accessModes") or ()):
        return "incompatible accessMode"
    if _storage(vspec.get("capacity")) < claim_request(claim):
        return "requested PV is too small"
    selector = cspec.get("selector")
    if selector is not None:
        try:
            matches = label_selector_from_dict(selector).matches(
                (volume.get("metadata") or {}).get("labels"))
        except errors.Invalid:
            matches = False
        if not matches:
            return "the volume's labels do not match the claim's selector"
    return None


def best_match(claim: Obj, volumes: Iterable[Obj], class_name: str) -> Obj | None:
    """The volume to bind the claim to, if any fits."""
    fitting: list[Obj] = []
    for volume in volumes:
        if is_being_deleted(volume) or mismatch(volume, claim, class_name) is not None:
            continue
        if promised_to(volume, claim):
            return volume
        if (volume.get("spec") or {}).get("claimRef"):
            continue  # promised to (or still held for) another claim
        if (volume.get("status") or {}).get("phase") in ("Released", "Failed"):
            continue
        fitting.append(volume)
    if not fitting:
        return None
    return min(fitting, key=lambda v: (_storage((v.get("spec") or {}).get("capacity")),
                                       v["metadata"]["name"]))
