"""Translating one Kubernetes container spec into Docker create arguments.

This is where Kubernetes semantics meet Docker's: ``command``/``args`` map to
ENTRYPOINT/CMD (a ``command`` drops the image's CMD, ``args`` alone keep its
ENTRYPOINT), resources become cgroup limits (memory limit without swap,
``nano_cpus`` from the CPU limit, shares from the request), the security
context becomes user, capabilities and no-new-privileges, and every
container joins the sandbox's network and IPC namespaces so the pod shares
one IP and ``localhost``.  The functions are pure apart from creating
``subPath`` folders, so they are tested without Docker.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import orjson
from docker.types import Mount

from kubelet.env import ConfigError, expand
from kubelet.runtime import (
    LABEL_CONTAINER, LABEL_GRACE, LABEL_HASH, LABEL_KIND, LABEL_NAMESPACE, LABEL_POD,
    LABEL_POD_UID, LABEL_RESTART_COUNT,
)
from kubelet.volumes import VolumeSource
from machinery.quantity import cpu_millis, memory_bytes

__all__ = ["spec_hash", "container_name", "ContainerSetup", "docker_args", "pod_labels",
           "security_user"]

Obj = dict[str, Any]


def spec_hash(container: Obj) -> str:
    """A short stable hash of the container spec: a changed spec means a new container."""
    return hashlib.sha256(orjson.dumps(container, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def container_name(pod: Obj, name: str, restart_count: int) -> str:
    meta = pod.get("metadata") or {}
    return f"k8py_{name}_{meta.get('name')}_{meta.get('namespace')}_{meta.get('uid')}_{restart_count}"


def pod_labels(pod: Obj) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return {LABEL_NAMESPACE: str(meta.get("namespace")), LABEL_POD: str(meta.get("name")),
            LABEL_POD_UID: str(meta.get("uid"))}


@dataclass
class ContainerSetup:
    """Everything beyond the spec that a container's creation needs."""

    kind: str                       # init | app
    restart_count: int
    sandbox_id: str
    env: dict[str, str]
    volumes: dict[str, VolumeSource]
    image_user: str = ""            # the image's USER, for runAsNonRoot
    hosts_file: str | None = None
    resolv_file: str | None = None
    termination_log: str | None = None


def _merged_security(pod: Obj, container: Obj) -> Obj:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = dict(container.get("securityContext") or {})
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot"):
        if key not in sc and key in pod_sc:
            sc[key] = pod_sc[key]
    return sc


def security_user(pod: Obj, container: Obj, image_user: str) -> str | None:
    """Docker's ``user`` for the container, enforcing ``runAsNonRoot`` as Kubernetes does."""
    sc = _merged_security(pod, container)
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if sc.get("runAsNonRoot"):
        if uid is None:
            name = image_user.split(":", 1)[0]
            if name in ("", "root", "0"):
                raise ConfigError("container has runAsNonRoot and image will run as root "
                                  f"(pod: \"{_pod_ref(pod)}\", container: {container.get('name')})")
            if not name.isdigit():
                raise ConfigError(f"container has runAsNonRoot and image has non-numeric user "
                                  f"({name}), cannot verify user is non-root")
        elif int(uid) == 0:
            raise ConfigError("container's runAsUser breaks non-root policy "
                              f"(pod: \"{_pod_ref(pod)}\", container: {container.get('name')})")
    if uid is None and gid is None:
        return None
    if uid is None:
        user = image_user.split(":", 1)[0] or "0"
        return f"{user}:{gid}"
    return f"{uid}:{gid}" if gid is not None else str(uid)


def _pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


def _safe_subpath(sub: str) -> str:
    if os.path.isabs(sub) or ".." in sub.split("/"):
        raise ConfigError(f"invalid subpath {sub!r}: must be a relative path without '..'")
    return sub


def _mount(volume_mount: Obj, source: VolumeSource, env: dict[str, str]) -> Mount:
    target = str(volume_mount.get("mountPath"))
    sub = str(volume_mount.get("subPath") or "")
    if not sub and volume_mount.get("subPathExpr"):
        sub = expand(str(volume_mount["subPathExpr"]), env)
    read_only = bool(volume_mount.get("readOnly")) or source.read_only
    if source.type == "volume":
        if sub:
            raise ConfigError(f"subPath is not supported for volume {volume_mount.get('name')!r} "
                              "(emptyDir with medium Memory) on this node")
        return Mount(target, source.source, type="volume", read_only=read_only)
    path = source.source
    if sub:
        path = os.path.join(source.source, _safe_subpath(sub))
        if not os.path.lexists(path):
            os.makedirs(path, mode=0o777, exist_ok=True)
    return Mount(target, path, type="bind", read_only=read_only)


def _resources(container: Obj) -> dict[str, Any]:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    out: dict[str, Any] = {}
    if limits.get("memory"):
        out["mem_limit"] = memory_bytes(limits["memory"])
        out["memswap_limit"] = out["mem_limit"]  # Kubernetes nodes run without swap
    if requests.get("memory"):
        reservation = memory_bytes(requests["memory"])
        if "mem_limit" not in out or reservation <= out["mem_limit"]:
            out["mem_reservation"] = reservation
    if limits.get("cpu"):
        out["nano_cpus"] = cpu_millis(limits["cpu"]) * 1_000_000
    request = requests.get("cpu") or limits.get("cpu")
    out["cpu_shares"] = max(2, cpu_millis(request) * 1024 // 1000) if request else 2
    return out


def _security(pod: Obj, container: Obj) -> dict[str, Any]:
    sc = _merged_security(pod, container)
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    if sc.get("privileged"):
        raise ConfigError("privileged containers are not allowed on this node "
                          "(the Docker engine refuses --privileged)")
    out: dict[str, Any] = {}
    caps = sc.get("capabilities") or {}
    if caps.get("add"):
        out["cap_add"] = [str(c) for c in caps["add"]]
    if caps.get("drop"):
        out["cap_drop"] = [str(c) for c in caps["drop"]]
    if sc.get("readOnlyRootFilesystem"):
        out["read_only"] = True
    if sc.get("allowPrivilegeEscalation") is False:
        out["security_opt"] = ["no-new-privileges"]
    groups = [str(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None:
        groups.append(str(pod_sc["fsGroup"]))
    if groups:
        out["group_add"] = groups
    return out


def docker_args(pod: Obj, container: Obj, setup: ContainerSetup,
                base_labels: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(create_container kwargs, host config kwargs, container name) for one container."""
    spec = pod.get("spec") or {}
    name = str(container.get("name"))
    env = setup.env
    command = [expand(str(c), env) for c in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    labels = {**base_labels, **pod_labels(pod), LABEL_CONTAINER: name, LABEL_KIND: setup.kind,
              LABEL_RESTART_COUNT: str(setup.restart_count), LABEL_HASH: spec_hash(container),
              LABEL_GRACE: str(spec.get("terminationGracePeriodSeconds", 30))}
    config: dict[str, Any] = {
        "image": container.get("image"),
        "environment": [f"{k}={v}" for k, v in env.items()],
        "labels": labels,
        "stdin_open": bool(container.get("stdin")),
        "tty": bool(container.get("tty")),
    }
    if command:
        config["entrypoint"] = command
        config["command"] = args or None
    elif args:
        config["command"] = args
    if container.get("workingDir"):
        config["working_dir"] = container["workingDir"]
    user = security_user(pod, container, setup.image_user)
    if user is not None:
        config["user"] = user
    mounts = []
    for volume_mount in container.get("volumeMounts") or []:
        source = setup.volumes.get(str(volume_mount.get("name")))
        if source is None:
            raise ConfigError(f"unable to find volume {volume_mount.get('name')!r} of the pod")
        mounts.append(_mount(volume_mount, source, env))
    targets = {m["Target"] for m in mounts}
    for path, target in ((setup.hosts_file, "/etc/hosts"), (setup.resolv_file, "/etc/resolv.conf"),
                         (setup.termination_log, container.get("terminationMessagePath")
                          or "/dev/termination-log")):
        if path and target not in targets:
            mounts.append(Mount(str(target), path, type="bind"))
    host: dict[str, Any] = {
        "network_mode": f"container:{setup.sandbox_id}",
        "ipc_mode": f"container:{setup.sandbox_id}",
        "mounts": mounts,
        "restart_policy": {"Name": "no"},
        **_resources(container),
        **_security(pod, container),
    }
    if spec.get("hostPID"):
        host["pid_mode"] = "host"
    elif spec.get("shareProcessNamespace"):
        host["pid_mode"] = f"container:{setup.sandbox_id}"
    return config, host, container_name(pod, name, setup.restart_count)
