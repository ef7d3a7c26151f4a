"""Reading a pod's containers from Docker, and the way down: stop, kill, remove.

Shared by the sync pass (a liveness kill, containers of a dead sandbox) and
by pod workers (deletion, orphans).  Stopping follows Kubernetes: the
``preStop`` hook runs first within the grace period, then Docker sends the
image's stop signal (SIGTERM unless its STOPSIGNAL says otherwise) and
SIGKILL when what is left of the grace period runs out.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubelet.context import SyncContext
from kubelet.probes import run_handler
from kubelet.runtime import KIND_INIT, KIND_SANDBOX, ContainerInfo, DockerRuntime
from kubelet.status import is_sidecar
from machinery.events import NORMAL, WARNING

__all__ = ["observe", "all_specs", "field_path", "stop_container", "kill_pod", "stop_sandbox",
           "remove_pod"]

Obj = dict[str, Any]
_MIN_GRACE_AFTER_HOOK = 2


async def observe(runtime: DockerRuntime,
                  uid: str) -> tuple[list[ContainerInfo], dict[str, list[ContainerInfo]]]:
    """A pod's (sandboxes, containers by name), newest first."""
    sandboxes: list[ContainerInfo] = []
    instances: dict[str, list[ContainerInfo]] = {}
    for info in await runtime.pod_containers(uid):
        if info.kind == KIND_SANDBOX:
            sandboxes.append(info)
        else:
            instances.setdefault(info.container_name, []).append(info)
    return sandboxes, instances


def all_specs(pod: Obj | None) -> dict[str, Obj]:
    spec = (pod or {}).get("spec") or {}
    return {str(c.get("name")): c
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}


def field_path(kind: str, name: str) -> str:
    """The event ``fieldPath`` naming one container of the pod."""
    return f"spec.{'initContainers' if kind == KIND_INIT else 'containers'}{{{name}}}"


async def stop_container(ctx: SyncContext, pod: Obj | None, info: ContainerInfo, grace: int, *,
                         announce: bool = True) -> None:
    """preStop hook, then the stop signal, SIGKILL after what is left of ``grace``."""
    name, kind = info.container_name, info.kind
    spec = all_specs(pod).get(name) if pod else None
    if pod is not None and announce and kind != KIND_SANDBOX:
        ctx.recorder.event(pod, NORMAL, "Killing", f"Stopping container {name}",
                           field_path=field_path(kind, name))
    started = time.monotonic()
    hook = ((spec or {}).get("lifecycle") or {}).get("preStop")
    if hook and info.running and grace > 0:
        pod_ip = str(((pod or {}).get("status") or {}).get("podIP") or "")
        ok, message = await run_handler(ctx.runtime, hook, spec or {}, info.id, pod_ip,
                                        timeout=grace)
        if not ok and pod is not None:
            ctx.recorder.event(pod, WARNING, "FailedPreStopHook", message,
                               field_path=field_path(kind, name))
        grace = max(_MIN_GRACE_AFTER_HOOK, grace - int(time.monotonic() - started))
    if info.running:
        await ctx.runtime.stop(info.id, grace)


async def kill_pod(ctx: SyncContext, pod: Obj | None, uid: str, grace: int) -> None:
    """Stop the pod's containers together, then its sidecars (last started first), then
    its sandbox; the sidecars get what is left of the grace period."""
    sandboxes, instances = await observe(ctx.runtime, uid)
    ctx.probes.forget_pod(uid)
    sidecars = [str(c.get("name")) for c in ((pod or {}).get("spec") or {}).get(
        "initContainers") or [] if is_sidecar(c)]
    started = time.monotonic()
    await asyncio.gather(*(stop_container(ctx, pod, info, grace)
                           for name, infos in instances.items() if name not in sidecars
                           for info in infos if info.running))
    for name in reversed(sidecars):
        left = max(_MIN_GRACE_AFTER_HOOK, grace - int(time.monotonic() - started))
        for info in instances.get(name) or []:
            if info.running:
                await stop_container(ctx, pod, info, left)
    await asyncio.gather(*(ctx.runtime.stop(s.id, 0) for s in sandboxes if s.running))


async def stop_sandbox(ctx: SyncContext, uid: str) -> None:
    """A finished pod gives back its IP; its exited containers stay for status and logs."""
    sandboxes, _ = await observe(ctx.runtime, uid)
    await asyncio.gather(*(ctx.runtime.stop(s.id, 0) for s in sandboxes if s.running))


async def remove_pod(ctx: SyncContext, uid: str) -> None:
    """Remove every container and sandbox of the pod and its volumes (after ``kill_pod``)."""
    for info in await ctx.runtime.pod_containers(uid):
        await ctx.runtime.remove(info.id)
    await ctx.volumes.cleanup(uid)
    ctx.backoff.forget_prefix(f"{uid}/")
    ctx.images.forget_pod(uid)
