"""``rollout status``: follow a workload until kubectl's completion test passes.

The messages and tests are those of kubectl's status viewers
(``polymorphichelpers/rollout_status.go``), since scripts match on them:
a Deployment is done when the controller has seen the latest spec, every
replica is updated, no old one is left and all updated ones are
available; a Deployment whose Progressing condition says
ProgressDeadlineExceeded fails.  The object is watched by name, and each
change of message is printed once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from cli.context import Context
from cli.errors import CliError
from machinery.resources import Resource

__all__ = ["watch_rollout", "VIEWERS", "deployment_status", "daemonset_status",
           "statefulset_status"]

Obj = dict[str, Any]


def _n(status: Obj, field: str) -> int:
    return int(status.get(field) or 0)


def _observed(obj: Obj) -> bool:
    return int(obj["metadata"].get("generation") or 0) <= _n(obj.get("status") or {},
                                                              "observedGeneration")


def deployment_status(d: Obj) -> tuple[str, bool]:
    name = d["metadata"]["name"]
    status = d.get("status") or {}
    if not _observed(d):
        return "Waiting for deployment spec update to be observed...\n", False
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise CliError(f'deployment "{name}" exceeded its progress deadline')
    want = int(d["spec"].get("replicas", 1))
    updated = _n(status, "updatedReplicas")
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < want:
        return f"{prefix}{updated} out of {want} new replicas have been updated...\n", False
    if _n(status, "replicas") > updated:
        return (f"{prefix}{_n(status, 'replicas') - updated} old replicas are pending "
                "termination...\n"), False
    if _n(status, "availableReplicas") < updated:
        return (f"{prefix}{_n(status, 'availableReplicas')} of {updated} updated replicas are "
                "available...\n"), False
    return f'deployment "{name}" successfully rolled out\n', True


def _rolling_only(obj: Obj) -> None:
    strategy = (obj["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")


def daemonset_status(ds: Obj) -> tuple[str, bool]:
    _rolling_only(ds)
    name = ds["metadata"]["name"]
    status = ds.get("status") or {}
    if not _observed(ds):
        return "Waiting for daemon set spec update to be observed...\n", False
    desired = _n(status, "desiredNumberScheduled")
    prefix = f'Waiting for daemon set "{name}" rollout to finish: '
    if _n(status, "updatedNumberScheduled") < desired:
        return (f"{prefix}{_n(status, 'updatedNumberScheduled')} out of {desired} new pods have "
                "been updated...\n"), False
    if _n(status, "numberAvailable") < desired:
        return (f"{prefix}{_n(status, 'numberAvailable')} of {desired} updated pods are "
                "available...\n"), False
    return f'daemon set "{name}" successfully rolled out\n', True


def statefulset_status(sts: Obj) -> tuple[str, bool]:
    _rolling_only(sts)
    status = sts.get("status") or {}
    if _n(status, "observedGeneration") == 0 or not _observed(sts):
        return "Waiting for statefulset spec update to be observed...\n", False
    want = int(sts["spec"].get("replicas", 1))
    if _n(status, "readyReplicas") < want:
        return f"Waiting for {want - _n(status, 'readyReplicas')} pods to be ready...\n", False
    partition = int(((sts["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})
                    .get("partition") or 0)
    if partition > 0:
        if _n(status, "updatedReplicas") < want - partition:
            return (f"Waiting for partitioned roll out to finish: {_n(status, 'updatedReplicas')} "
                    f"out of {want - partition} new pods have been updated...\n"), False
        return (f"partitioned roll out complete: {_n(status, 'updatedReplicas')} new pods have "
                "been updated...\n"), True
    if status.get("updateRevision") != status.get("currentRevision"):
        return (f"waiting for statefulset rolling update to complete "
                f"{_n(status, 'updatedReplicas')} pods at revision "
                f"{status.get('updateRevision')}...\n"), False
    return (f"statefulset rolling update complete {_n(status, 'currentReplicas')} pods at "
            f"revision {status.get('currentRevision')}...\n"), True


VIEWERS: dict[str, Callable[[Obj], tuple[str, bool]]] = {
    "Deployment": deployment_status,
    "DaemonSet": daemonset_status,
    "StatefulSet": statefulset_status,
}


async def watch_rollout(ctx: Context, resource: Resource, name: str, *, watch: bool,
                        timeout: float) -> None:
    """Print status lines until done; ``timeout`` 0 waits for ever."""
    from machinery import errors

    viewer = VIEWERS[resource.kind]
    last: list[str] = []

    def show(obj: Obj) -> bool:
        message, done = viewer(obj)
        if not last or last[-1] != message:
            last.append(message)
            ctx.stdout.write(message)
            ctx.stdout.flush()
        return done

    async def follow() -> None:
        obj = await ctx.client.get(resource, name, ctx.namespace)
        while not show(obj) and watch:
            stream = ctx.client.watch(resource, ctx.namespace,
                                      field_selector=f"metadata.name={name}",
                                      resource_version=obj["metadata"]["resourceVersion"],
                                      timeout_seconds=300)
            try:
                async with contextlib.aclosing(stream):  # type: ignore[type-var]
                    async for event in stream:
                        if event["type"] == "DELETED":
                            raise CliError("object has been deleted")
                        if event["type"] in ("ADDED", "MODIFIED"):
                            obj = event["object"]
                            if show(obj):
                                return
            except errors.Expired:
                pass  # resume from a fresh read
            obj = await ctx.client.get(resource, name, ctx.namespace)

    if timeout <= 0:
        await follow()
        return
    try:
        await asyncio.wait_for(follow(), timeout)
    except TimeoutError:
        raise CliError("timed out waiting for the condition") from None
