"""Pod volume validation: names, exactly one source, and the common sources' fields.

Only the volume sources k8py can actually serve (emptyDir, hostPath, configMap,
secret, downwardAPI, projected, persistentVolumeClaim) plus the cheap checks of
a few others are inspected in depth; the one-source rule covers them all.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.containers import (
    validate_local_descending_path, validate_local_non_reserved_path,
    validate_object_field_selector,
)
from apiserver.validation.field import Cause
from apiserver.validation.values import as_int, as_str, dicts, parse_quantity

__all__ = ["VOLUME_SOURCES", "validate_volumes", "validate_host_path", "HOST_PATH_TYPES"]

# Kubernetes checks the sources in this order; the second one found is the one reported.
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret",
    "nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs",
    "quobyte", "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
    "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO",
    "csi", "ephemeral", "image",
)
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                   "FileOrCreate", "Socket")
_FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name",
                       "metadata.namespace", "metadata.uid")


def _mode(value: Any, path: str) -> list[Cause]:
    mode = as_int(value)
    if mode is not None and not 0 <= mode <= 0o777:
        return [field.invalid(path, mode, _FILE_MODE_ERROR)]
    return []


def _key_to_paths(items: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, item in dicts(items):
        item_path = field.index(path, i)
        if not as_str(item.get("key")):
            causes.append(field.required(field.child(item_path, "key")))
        target = as_str(item.get("path"))
        if not target:
            causes.append(field.required(field.child(item_path, "path")))
        causes += validate_local_non_reserved_path(target, field.child(item_path, "path"))
        causes += _mode(item.get("mode"), field.child(item_path, "mode"))
    return causes


def _required_name(source: dict[str, Any], attr: str, path: str) -> list[Cause]:
    return [] if as_str(source.get(attr)) else [field.required(field.child(path, attr))]


def _downward_items(items: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for _, item in dicts(items):
        target = as_str(item.get("path"))
        if not target:
            causes.append(field.required(field.child(path, "path")))
        causes += validate_local_non_reserved_path(target, field.child(path, "path"))
        if isinstance(item.get("fieldRef"), dict):
            causes += validate_object_field_selector(
                item["fieldRef"], field.child(path, "fieldRef"), _VOLUME_FIELD_PATHS)
            if isinstance(item.get("resourceFieldRef"), dict):
                causes.append(field.invalid(path, "resource", "fieldRef and resourceFieldRef can "
                                            "not be specified simultaneously"))
        elif not isinstance(item.get("resourceFieldRef"), dict):
            causes.append(field.required(path, "one of fieldRef and resourceFieldRef is required"))
        causes += _mode(item.get("mode"), field.child(path, "mode"))
    return causes


def _projected(source: dict[str, Any], path: str) -> list[Cause]:
    causes = _mode(source.get("defaultMode"), field.child(path, "defaultMode"))
    for i, projection in dicts(source.get("sources")):
        src_path = field.index(field.child(path, "sources"), i)
        kinds = [k for k in ("secret", "configMap", "downwardAPI", "serviceAccountToken",
                             "clusterTrustBundle") if isinstance(projection.get(k), dict)]
        for kind in kinds:
            body, kind_path = projection[kind], field.child(src_path, kind)
            if kind in ("secret", "configMap"):
                causes += _required_name(body, "name", kind_path)
                causes += _key_to_paths(body.get("items"), field.child(kind_path, "items"))
            elif kind == "downwardAPI":
                causes += _downward_items(body.get("items"), kind_path)
            elif kind == "serviceAccountToken":
                seconds = as_int(body.get("expirationSeconds"))
                if seconds is not None and seconds < 600:
                    causes.append(field.invalid(field.child(kind_path, "expirationSeconds"),
                                                seconds, "may not specify a duration less than "
                                                "10 minutes"))
                if not as_str(body.get("path")):
                    causes.append(field.required(field.child(kind_path, "path")))
        if len(kinds) > 1:
            causes.append(field.forbidden(src_path, "may not specify more than 1 volume type per "
                                          "source"))
    return causes


def validate_host_path(source: dict[str, Any], path: str) -> list[Cause]:
    host_path = as_str(source.get("path"))
    if not host_path:
        return [field.required(field.child(path, "path"))]
    causes = []
    if ".." in host_path.split("/"):
        causes.append(field.invalid(field.child(path, "path"), host_path, "must not contain '..'"))
    host_type = source.get("type")
    if isinstance(host_type, str) and host_type not in HOST_PATH_TYPES:
        causes.append(field.not_supported(field.child(path, "type"), host_type, HOST_PATH_TYPES))
    return causes


def _source(kind: str, source: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if kind == "emptyDir":
        limit = parse_quantity(source.get("sizeLimit"))
        if limit is not None and limit < 0:
            causes.append(field.forbidden(field.child(path, "sizeLimit"),
                                          "SizeLimit field must be a valid resource quantity"))
    elif kind == "hostPath":
        causes += validate_host_path(source, path)
    elif kind in ("secret", "configMap"):
        causes += _required_name(source, "secretName" if kind == "secret" else "name", path)
        causes += _mode(source.get("defaultMode"), field.child(path, "defaultMode"))
        causes += _key_to_paths(source.get("items"), field.child(path, "items"))
    elif kind == "persistentVolumeClaim":
        causes += _required_name(source, "claimName", path)
    elif kind == "nfs":
        causes += _required_name(source, "server", path) + _required_name(source, "path", path)
        if not as_str(source.get("path")).startswith("/"):
            causes.append(field.invalid(field.child(path, "path"), as_str(source.get("path")),
                                        "must be an absolute path"))
    elif kind == "gitRepo":
        causes += _required_name(source, "repository", path)
        causes += validate_local_descending_path(as_str(source.get("directory")),
                                                 field.child(path, "directory"))
    elif kind == "downwardAPI":
        causes += _mode(source.get("defaultMode"), field.child(path, "defaultMode"))
        causes += _downward_items(source.get("items"), path)
    elif kind == "projected":
        causes += _projected(source, path)
    elif kind == "csi":
        causes += _required_name(source, "driver", path)
    elif kind == "ephemeral":
        if not isinstance(source.get("volumeClaimTemplate"), dict):
            causes.append(field.required(field.child(path, "volumeClaimTemplate")))
    elif kind == "image":
        causes += _required_name(source, "reference", path)
    return causes


def _volume_source(volume: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    found = 0
    for kind in VOLUME_SOURCES:
        source = volume.get(kind)
        if not isinstance(source, dict):
            continue
        if found:
            causes.append(field.forbidden(field.child(path, kind),
                                          "may not specify more than 1 volume type"))
            continue
        found += 1
        causes += _source(kind, source, field.child(path, kind))
    if not found:
        causes.append(field.required(path, "must specify a volume type"))
    return causes


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, dict[str, Any]], list[Cause]]:
    """Validate ``spec.volumes``; also return the usable volumes by name for mount checks."""
    usable: dict[str, dict[str, Any]] = {}
    causes: list[Cause] = []
    for i, volume in dicts(volumes):
        item = field.index(path, i)
        name = as_str(volume.get("name"))
        errs = _volume_source(volume, item)
        if not name:
            errs.append(field.required(field.child(item, "name")))
        else:
            errs += names.validate_dns1123_label(name, field.child(item, "name"))
        if name in usable:
            errs.append(field.duplicate(field.child(item, "name"), name))
        if errs:
            causes += errs
        else:
            usable[name] = volume
    return usable, causes

