"""PersistentVolume, PersistentVolumeClaim and StorageClass validation."""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause
from apiserver.validation.meta import immutable, validate_label_selector, validate_object_meta
from apiserver.validation.values import (
    as_dict, as_list, as_str, parse_quantity, quantity_text,
)
from apiserver.validation.volumes import validate_host_path

__all__ = [
    "validate_persistent_volume",
    "validate_persistent_volume_update",
    "validate_persistent_volume_claim",
    "validate_persistent_volume_claim_update",
    "validate_pvc_spec",
    "validate_storage_class",
    "validate_storage_class_update",
]

_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
# The order Kubernetes checks PersistentVolume sources in.
_PV_SOURCES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd",
    "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume",
    "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos",
    "csi",
)
_NOT_POSITIVE = "must be greater than zero"


def _access_modes(modes: Any, path: str, detail: str) -> list[Cause]:
    values = [as_str(m) for m in as_list(modes)]
    if not values:
        return [field.required(path, detail)]
    causes = [field.not_supported(path, m, _ACCESS_MODES) for m in values
              if m not in _ACCESS_MODES]
    if "ReadWriteOncePod" in values and any(m != "ReadWriteOncePod" and m in _ACCESS_MODES
                                            for m in values):
        causes.append(field.forbidden(path, "may not use ReadWriteOncePod with other access "
                                      "modes"))
    return causes


def _class_name(value: Any, path: str) -> list[Cause]:
    text = as_str(value)
    return [field.invalid(path, text, m) for m in names.is_dns1123_subdomain(text)] if text else []


def _volume_mode(value: Any, path: str) -> list[Cause]:
    if value is not None and value not in _VOLUME_MODES:
        return [field.not_supported(path, value, _VOLUME_MODES)]
    return []


def validate_pvc_spec(spec: Any, path: str) -> list[Cause]:
    spec = as_dict(spec)
    causes = _access_modes(spec.get("accessModes"), field.child(path, "accessModes"),
                           "at least 1 access mode is required")
    causes += validate_label_selector(spec.get("selector"), field.child(path, "selector"))
    storage_path = field.key(field.child(path, "resources"), "storage")
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        causes.append(field.required(storage_path))
    else:
        value = parse_quantity(requests["storage"])
        if value is not None and value <= 0:
            causes.append(field.invalid(storage_path, quantity_text(requests["storage"]),
                                        _NOT_POSITIVE))
    causes += _class_name(spec.get("storageClassName"), field.child(path, "storageClassName"))
    return causes + _volume_mode(spec.get("volumeMode"), field.child(path, "volumeMode"))


def validate_persistent_volume_claim(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=True,
                                  name_fn=names.name_is_dns_subdomain)
    return causes + validate_pvc_spec(obj.get("spec"), "spec")


def _storage(spec: dict[str, Any]) -> Any:
    return as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")


def validate_persistent_volume_claim_update(new: dict[str, Any],
                                            old: dict[str, Any]) -> list[Cause]:
    causes = validate_persistent_volume_claim(new)
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    new_clone, old_clone = field.zero_pruned(new_spec), field.zero_pruned(old_spec)
    if not as_str(old_spec.get("volumeName")):
        old_clone.pop("volumeName", None)
        new_clone.pop("volumeName", None)
    if as_dict(new.get("status")).get("phase") == "Bound":
        # A bound claim may be resized: compare everything but the requested storage.
        for clone in (new_clone, old_clone):
            as_dict(as_dict(clone.get("resources")).get("requests")).pop("storage", None)
        new_clone, old_clone = field.zero_pruned(new_clone), field.zero_pruned(old_clone)
    if new_clone != old_clone:
        causes.append(field.forbidden("spec", "spec is immutable after creation except "
                                      "resources.requests and volumeAttributesClassName for bound "
                                      "claims\n" + field.go_diff("core.PersistentVolumeClaimSpec",
                                                                 old_clone, new_clone)))
    new_size, old_size = parse_quantity(_storage(new_spec)), parse_quantity(_storage(old_spec))
    capacity = parse_quantity(as_dict(as_dict(old.get("status")).get("capacity")).get("storage"))
    if new_size is not None and old_size is not None and new_size < old_size and (
            capacity is None or new_size <= capacity):
        causes.append(field.forbidden("spec.resources.requests.storage",
                                      "field can not be less than status.capacity"))
    causes += immutable(new_spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode")
    return causes


def _pv_sources(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    found = 0
    for kind in _PV_SOURCES:
        source = spec.get(kind)
        if not isinstance(source, dict):
            continue
        kind_path = field.child("spec", kind)
        if found:
            causes.append(field.forbidden(kind_path, "may not specify more than 1 volume type"))
            continue
        found += 1
        if kind == "hostPath":
            causes += validate_host_path(source, kind_path)
        elif kind == "local":
            local_path = as_str(source.get("path"))
            if not local_path:
                causes.append(field.required(field.child(kind_path, "path")))
            elif ".." in local_path.split("/"):
                causes.append(field.invalid(field.child(kind_path, "path"), local_path,
                                            "must not contain '..'"))
            if not isinstance(spec.get("nodeAffinity"), dict):
                causes.append(field.required("spec.nodeAffinity",
                                             "Local volume requires node affinity"))
        elif kind == "nfs":
            for attr in ("server", "path"):
                if not as_str(source.get(attr)):
                    causes.append(field.required(field.child(kind_path, attr)))
        elif kind == "csi":
            for attr in ("driver", "volumeHandle"):
                if not as_str(source.get(attr)):
                    causes.append(field.required(field.child(kind_path, attr)))
    if not found:
        causes.append(field.required("spec", "must specify a volume type"))
    return causes


def validate_persistent_volume(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=False,
                                  name_fn=names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    causes += _access_modes(spec.get("accessModes"), "spec.accessModes", "")
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        causes.append(field.required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(field.not_supported("spec.capacity", capacity, ("storage",)))
    for name in sorted(capacity):
        value = parse_quantity(capacity[name])
        if value is not None and value <= 0:
            causes.append(field.invalid(field.key("spec.capacity", name),
                                        quantity_text(capacity[name]), _NOT_POSITIVE))
    policy = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in _RECLAIM_POLICIES:
        causes.append(field.not_supported("spec.persistentVolumeReclaimPolicy", policy,
                                          _RECLAIM_POLICIES))
    causes += _pv_sources(spec)
    causes += _class_name(spec.get("storageClassName"), "spec.storageClassName")
    return causes + _volume_mode(spec.get("volumeMode"), "spec.volumeMode")


def validate_persistent_volume_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_persistent_volume(new)
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    new_source = field.zero_pruned({k: new_spec.get(k) for k in _PV_SOURCES})
    old_source = field.zero_pruned({k: old_spec.get(k) for k in _PV_SOURCES})
    if new_source != old_source:
        causes.append(field.forbidden("spec.persistentvolumesource",
                                      "spec.persistentvolumesource is immutable after creation\n"
                                      + field.go_diff("core.PersistentVolumeSource", old_source,
                                                      new_source)))
    causes += immutable(new_spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode")
    return causes


def validate_storage_class(obj: dict[str, Any]) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=False,
                                  name_fn=names.name_is_dns_subdomain)
    provisioner = as_str(obj.get("provisioner"))
    if not provisioner:
        causes.append(field.required("provisioner"))
    else:
        causes += [field.invalid("provisioner", provisioner, m)
                   for m in names.is_qualified_name(provisioner.lower())]
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        causes.append(field.not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    modes = ("Immediate", "WaitForFirstConsumer")
    if mode is None:
        causes.append(field.required("volumeBindingMode"))
    elif mode not in modes:
        causes.append(field.not_supported("volumeBindingMode", mode, modes))
    return causes


def validate_storage_class_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_storage_class(new)
    for attr, message in (("parameters", "updates to parameters are forbidden."),
                          ("provisioner", "updates to provisioner are forbidden."),
                          ("reclaimPolicy", "updates to reclaimPolicy are forbidden.")):
        if field.zero_pruned(new.get(attr)) != field.zero_pruned(old.get(attr)):
            causes.append(field.forbidden(attr, message))
    causes += immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"),
                        "volumeBindingMode")
    return causes
