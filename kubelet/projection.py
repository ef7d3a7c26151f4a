"""Files projected from API objects into a volume folder, swapped in atomically.

ConfigMap, Secret, downwardAPI and projected volumes are folders the kubelet
fills with one file per key.  Kubernetes' atomic writer layout is kept so
updates reach running containers all at once and never half-written:

    <volume>/..2024_01_02_03_04_05.123/   the current payload
    <volume>/..data -> ..2024_...         swapped with one rename
    <volume>/<key>  -> ..data/<key>        stable names users open

A container that mounted the whole folder sees a new payload as soon as
``..data`` is swapped; one that mounted a single key with ``subPath`` keeps
the old file, exactly as in Kubernetes.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelet.env import ConfigError, ObjectSource, field_value, object_data, resource_value

__all__ = ["Payload", "FileSpec", "write_payload", "configmap_payload", "secret_payload",
           "downward_payload", "projected_payload"]

Obj = dict[str, Any]
DEFAULT_MODE = 0o644
DATA_DIR = "..data"


@dataclass(frozen=True)
class FileSpec:
    content: bytes
    mode: int


Payload = dict[str, FileSpec]


def _clean_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") or p.startswith("..") for p in parts):
        raise ConfigError(f"invalid path {path!r} in volume items")
    return "/".join(parts)


def _current(volume_dir: Path) -> Payload | None:
    data = volume_dir / DATA_DIR
    if not data.is_dir():
        return None
    payload: Payload = {}
    for root, _, files in os.walk(data):
        for name in files:
            full = Path(root) / name
            rel = str(full.relative_to(data))
            payload[rel] = FileSpec(full.read_bytes(), full.stat().st_mode & 0o7777)
    return payload


def write_payload(volume_dir: Path, payload: Payload, *, gid: int | None = None) -> bool:
    """Make ``volume_dir`` hold exactly ``payload``; True when anything changed."""
    volume_dir.mkdir(parents=True, exist_ok=True)
    if _current(volume_dir) == payload:
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + f"{time.time_ns() % 10**9}"
    fresh = volume_dir / stamp
    fresh.mkdir(mode=0o755)
    for rel, spec in payload.items():
        target = fresh / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(spec.content)
        if gid is not None:
            os.chown(target, -1, gid)
        os.chmod(target, spec.mode)
    data = volume_dir / DATA_DIR
    old_target = os.readlink(data) if data.is_symlink() else None
    tmp_link = volume_dir / "..data_tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, data)
    tops = {rel.split("/", 1)[0] for rel in payload}
    for top in tops:
        link = volume_dir / top
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(f"{DATA_DIR}/{top}", link)
    for entry in volume_dir.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops and entry.is_symlink():
            entry.unlink()
    if old_target and old_target != stamp:
        shutil.rmtree(volume_dir / old_target, ignore_errors=True)
    return True


def _mode(item: Obj, default_mode: int) -> int:
    mode = item.get("mode")
    return int(mode) if mode is not None else default_mode


def _from_data(data: Mapping[str, bytes], items: list[Obj] | None, default_mode: int,
               optional: bool, what: str) -> Payload:
    payload: Payload = {}
    if not items:
        for key, value in data.items():
            payload[_clean_path(key)] = FileSpec(value, default_mode)
        return payload
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            if optional:
                continue
            raise ConfigError(f"configmap references non-existent config key: {key}"
                              if what == "configmap" else
                              f"references non-existent secret key: {key}")
        payload[_clean_path(str(item.get("path") or key))] = FileSpec(
            data[key], _mode(item, default_mode))
    return payload


async def _object_payload(kind: str, objects: ObjectSource, namespace: str, source: Obj,
                          default_mode: int) -> Payload:
    name_field = "name" if kind == "configmaps" else "secretName"
    name = str(source.get(name_field) or source.get("name") or "")
    what = "configmap" if kind == "configmaps" else "secret"
    optional = bool(source.get("optional"))
    obj = await objects.get(kind, namespace, name)
    if obj is None:
        if optional:
            return {}
        raise ConfigError(f'{what} "{name}" not found')
    return _from_data(object_data(kind, obj), source.get("items"), default_mode, optional, what)


async def configmap_payload(objects: ObjectSource, namespace: str, source: Obj) -> Payload:
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    return await _object_payload("configmaps", objects, namespace, source, default_mode)


async def secret_payload(objects: ObjectSource, namespace: str, source: Obj) -> Payload:
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    return await _object_payload("secrets", objects, namespace, source, default_mode)


def _container(pod: Obj, name: str | None) -> Obj:
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    for container in containers:
        if not name or container.get("name") == name:
            return dict(container)
    raise ConfigError(f"no container named {name!r} for resourceFieldRef")


def downward_payload(pod: Obj, items: list[Obj], default_mode: int, *, host_ip: str,
                     allocatable: Mapping[str, str]) -> Payload:
    payload: Payload = {}
    for item in items:
        if item.get("fieldRef"):
            value = field_value(pod, str(item["fieldRef"].get("fieldPath")), "", host_ip)
        else:
            ref = item.get("resourceFieldRef") or {}
            value = resource_value(_container(pod, ref.get("containerName")), ref, allocatable)
        payload[_clean_path(str(item.get("path")))] = FileSpec(value.encode(),
                                                               _mode(item, default_mode))
    return payload


async def projected_payload(pod: Obj, objects: ObjectSource, source: Obj, *, host_ip: str,
                            allocatable: Mapping[str, str]) -> Payload:
    """A projected volume: several sources merged into one folder.

    ``serviceAccountToken`` sources are left out: k8py's API server issues no
    tokens, so there is nothing to project.
    """
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    payload: Payload = {}
    for part in source.get("sources") or []:
        if part.get("configMap"):
            payload.update(await _object_payload("configmaps", objects, namespace,
                                                 part["configMap"], default_mode))
        elif part.get("secret"):
            payload.update(await _object_payload("secrets", objects, namespace,
                                                 part["secret"], default_mode))
        elif part.get("downwardAPI"):
            payload.update(downward_payload(pod, part["downwardAPI"].get("items") or [],
                                            default_mode, host_ip=host_ip,
                                            allocatable=allocatable))
    return payload
