"""Pod volumes as host folders the pod's containers bind-mount.

Everything lives under ``<root-dir>/pods/<uid>/volumes/<plugin>/<name>``
(plugin names as Kubernetes spells them), a folder that in the compose
cluster is mounted at the same path into the node container, so the paths
the kubelet writes are the paths Docker resolves on the host.  Three kinds are
not folders here: ``hostPath`` is the host's own path (checked against its type),
a ``persistentVolumeClaim`` is the host path of the volume its claim is bound to
(the pod waits with FailedMount until the claim is bound), and ``emptyDir`` with ``medium: Memory`` is a labelled Docker tmpfs volume, the
one way to give several containers the same tmpfs without mount privileges.

``prepare`` is idempotent and cheap when nothing changed, so pod syncs call it
repeatedly; that is also how ConfigMap and Secret updates reach running pods.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelet.env import ConfigError, ObjectSource
from kubelet.projection import (
    DEFAULT_MODE, configmap_payload, downward_payload, projected_payload, secret_payload,
    write_payload,
)
from kubelet.runtime import LABEL_POD_UID, DockerRuntime
from machinery.quantity import memory_bytes

__all__ = ["MountError", "VolumeSource", "VolumeManager", "check_host_path"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)

_PLUGINS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}


class MountError(Exception):
    """A volume could not be set up; reported as a FailedMount event."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume


@dataclass(frozen=True)
class VolumeSource:
    """Where a pod volume comes from, for building Docker mounts."""

    type: str           # "bind" (a host path) or "volume" (a Docker volume)
    source: str
    read_only: bool     # projected kinds are always read-only
    subpath_ok: bool    # Docker 20.10 cannot mount a sub-folder of a named volume


def check_host_path(path: str, kind: str) -> None:
    """Kubernetes' hostPath ``type`` checks (creating for the *OrCreate types)."""
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    if kind == "FileOrCreate":
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
            with open(path, "a"):
                pass
            os.chmod(path, 0o644)
        return
    if not kind:
        return
    checks: dict[str, tuple[Callable[[int], bool], str]] = {
        "Directory": (stat.S_ISDIR, "directory"), "File": (stat.S_ISREG, "file"),
        "Socket": (stat.S_ISSOCK, "socket"), "CharDevice": (stat.S_ISCHR, "character device"),
        "BlockDevice": (stat.S_ISBLK, "block device"),
    }
    if kind not in checks:
        raise ConfigError(f"unknown hostPath type {kind!r}")
    test, what = checks[kind]
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        raise ConfigError(f"hostPath type check failed: {path} is not a {what}") from exc
    if not test(mode):
        raise ConfigError(f"hostPath type check failed: {path} is not a {what}")


class VolumeManager:
    def __init__(self, runtime: DockerRuntime, objects: ObjectSource, root_dir: str,
                 host_ip: str, allocatable: Callable[[], Mapping[str, str]]) -> None:
        self.runtime = runtime
        self.objects = objects
        self.root = Path(root_dir)
        self.host_ip = host_ip
        self.allocatable = allocatable
        self._claims: dict[tuple[str, str], VolumeSource] = {}

    def pods_dir(self) -> Path:
        return self.root / "pods"

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir() / uid

    def volume_dir(self, uid: str, kind: str, name: str) -> Path:
        return self.pod_dir(uid) / "volumes" / _PLUGINS[kind] / name

    @staticmethod
    def tmpfs_name(uid: str, name: str) -> str:
        return f"k8py-{uid}-{name}"

    async def prepare(self, pod: Obj) -> dict[str, VolumeSource]:
        """Set up (or refresh) every volume of the pod; raises ``MountError``."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid"))
        namespace = str(meta.get("namespace") or "default")
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        out: dict[str, VolumeSource] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name"))
            try:
                out[name] = await self._one(pod, uid, namespace, volume, fs_group)
            except ConfigError as exc:
                raise MountError(name, str(exc)) from exc
            except OSError as exc:
                raise MountError(name, f"{type(exc).__name__}: {exc}") from exc
        return out

    async def _one(self, pod: Obj, uid: str, namespace: str, volume: Obj,
                   fs_group: int | None) -> VolumeSource:
        name = str(volume.get("name"))
        if "hostPath" in volume:
            host_path = volume["hostPath"]
            check_host_path(str(host_path.get("path")), str(host_path.get("type") or ""))
            return VolumeSource("bind", str(host_path["path"]), False, True)
        if "emptyDir" in volume:
            return await self._empty_dir(uid, name, volume["emptyDir"] or {}, fs_group)
        if "persistentVolumeClaim" in volume:
            return await self._claim(uid, namespace, name, volume["persistentVolumeClaim"] or {})
        for kind in ("configMap", "secret", "downwardAPI", "projected"):
            if kind in volume:
                folder = self.volume_dir(uid, kind, name)
                payload = await self._payload(pod, namespace, kind, volume[kind] or {})
                write_payload(folder, payload, gid=fs_group)
                return VolumeSource("bind", str(folder), True, True)
        raise ConfigError("unsupported volume type (k8py supports emptyDir, hostPath, "
                          "configMap, secret, downwardAPI, projected and "
                          "persistentVolumeClaim)")

    async def _claim(self, uid: str, namespace: str, name: str, source: Obj) -> VolumeSource:
        """The bound volume's host folder; the pod waits (FailedMount) until the claim is bound.

        Resolved once per pod, as a kubelet mounts a claim once: a claim marked
        for deletion later must not disturb the pod still using it.
        """
        known = self._claims.get((uid, name))
        if known is not None:
            return known
        claim_name = str(source.get("claimName") or "")
        claim = await self.objects.get("persistentvolumeclaims", namespace, claim_name)
        if claim is None:
            raise ConfigError(f"error processing PVC {namespace}/{claim_name}: "
                              f'persistentvolumeclaims "{claim_name}" not found')
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            raise ConfigError(f"can't start pod because PVC {namespace}/{claim_name} "
                              "is being deleted")
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name or (claim.get("status") or {}).get("phase") != "Bound":
            raise ConfigError(f"error processing PVC {namespace}/{claim_name}: PVC is not bound")
        volume = await self.objects.get("persistentvolumes", "", str(volume_name))
        spec = (volume or {}).get("spec") or {}
        local = spec.get("hostPath") or spec.get("local")
        if not local or not local.get("path"):
            raise ConfigError(f"PersistentVolume {volume_name} is not a hostPath or local "
                              "volume, the kinds k8py can mount")
        check_host_path(str(local["path"]), str(local.get("type") or ""))
        found = VolumeSource("bind", str(local["path"]), bool(source.get("readOnly")), True)
        self._claims[(uid, name)] = found
        return found

    async def _payload(self, pod: Obj, namespace: str, kind: str, source: Obj) -> Any:
        if kind == "configMap":
            return await configmap_payload(self.objects, namespace, source)
        if kind == "secret":
            return await secret_payload(self.objects, namespace, source)
        if kind == "downwardAPI":
            return downward_payload(pod, source.get("items") or [],
                                    int(source.get("defaultMode", DEFAULT_MODE)),
                                    host_ip=self.host_ip, allocatable=self.allocatable())
        return await projected_payload(pod, self.objects, source, host_ip=self.host_ip,
                                       allocatable=self.allocatable())

    async def _empty_dir(self, uid: str, name: str, source: Obj,
                         fs_group: int | None) -> VolumeSource:
        if source.get("medium") == "Memory":
            volume = self.tmpfs_name(uid, name)
            if volume not in await self.runtime.list_volumes(**{LABEL_POD_UID: uid}):
                limit = source.get("sizeLimit")
                await self.runtime.create_tmpfs_volume(
                    volume, memory_bytes(limit) if limit else None, {LABEL_POD_UID: uid})
            return VolumeSource("volume", volume, False, False)
        folder = self.volume_dir(uid, "emptyDir", name)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            # World-writable like Kubernetes' emptyDir, so non-root containers can use it.
            os.chmod(folder, 0o777)
            if fs_group is not None:
                os.chown(folder, -1, fs_group)
                os.chmod(folder, 0o2777)
        return VolumeSource("bind", str(folder), False, True)

    def pod_file(self, uid: str, name: str, content: str) -> str:
        """Write a kubelet-managed file of the pod (etc-hosts, resolv.conf); its host path."""
        path = self.pod_dir(uid) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        return str(path)

    def termination_log(self, uid: str, container: str, restart_count: int) -> str:
        """A fresh, empty file the container may write its termination message to."""
        path = self.pod_dir(uid) / "containers" / container / str(restart_count)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.chmod(path, 0o666)
        return str(path)

    def read_termination_log(self, uid: str, container: str, restart_count: int) -> str:
        path = self.pod_dir(uid) / "containers" / container / str(restart_count)
        try:
            with open(path, "rb") as f:
                return f.read(4096).decode("utf-8", "replace")
        except OSError:
            return ""

    async def cleanup(self, uid: str) -> None:
        """Remove the pod's folder and tmpfs volumes once its containers are gone."""
        for volume in await self.runtime.list_volumes(**{LABEL_POD_UID: uid}):
            await self.runtime.remove_volume(volume)
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)
        for key in [k for k in self._claims if k[0] == uid]:
            del self._claims[key]

    def known_pod_dirs(self) -> list[str]:
        try:
            return [entry.name for entry in self.pods_dir().iterdir() if entry.is_dir()]
        except FileNotFoundError:
            return []
