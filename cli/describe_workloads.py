"""``describe`` for StatefulSets and DaemonSets, line by line as kubectl 1.32 prints them.

Both describers count the phases of the pods the object controls (its
selector, then its controller reference), print the pod template, and for
a StatefulSet its volume claim templates; events come last.
"""

from __future__ import annotations

from typing import Any

from cli.context import Context
from cli.describe import (Describer, Writer, annotations_multiline, describe_events,
                          labels_multiline, rfc1123z, search_events)
from cli.describe_kinds import format_selector
from cli.describe_pod import pod_template

__all__ = ["DESCRIBERS", "describe_statefulset", "describe_daemonset"]

Obj = dict[str, Any]
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


async def _pods_status(ctx: Context, obj: Obj) -> str:
    """``N Running / N Waiting / N Succeeded / N Failed`` over the pods it controls."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    query = format_selector(spec.get("selector"))
    pods, _ = await ctx.client.list_all("pods", meta.get("namespace"),
                                        label_selector=None if query == "<none>" else query)
    uid = meta.get("uid")
    phases = [(p.get("status") or {}).get("phase") for p in pods
              if any(r.get("controller") and r.get("uid") == uid
                     for r in (p.get("metadata") or {}).get("ownerReferences") or [])]
    return (f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed")


def _claim_templates(w: Writer, templates: list[Obj]) -> None:
    if not templates:
        w.write(0, "Volume Claims:\t<none>\n")
        return
    w.write(0, "Volume Claims:\n")
    for claim in templates:
        meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
        storage_class = spec.get("storageClassName")
        if storage_class is None:
            storage_class = (meta.get("annotations") or {}).get(_BETA_CLASS, "")
        w.write(1, f"Name:\t{meta.get('name', '')}\n")
        w.write(1, f"StorageClass:\t{storage_class}\n")
        labels_multiline(w, "Labels", meta.get("labels"), indent="  ")
        labels_multiline(w, "Annotations", meta.get("annotations"), indent="  ")
        capacity = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        w.write(1, f"Capacity:\t{capacity if capacity is not None else '<default>'}\n")
        w.write(1, f"Access Modes:\t[{' '.join(spec.get('accessModes') or [])}]\n")


async def describe_statefulset(ctx: Context, sts: Obj) -> str:
    meta, spec, status = sts.get("metadata") or {}, sts.get("spec") or {}, sts.get("status") or {}
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} "
               "total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling and rolling.get("partition") is not None:
        w.write(1, f"Partition:\t{rolling['partition']}\n")
        if rolling.get("maxUnavailable") is not None:
            w.write(1, f"MaxUnavailable:\t{rolling['maxUnavailable']}\n")
    w.write(0, f"Pods Status:\t{await _pods_status(ctx, sts)}\n")
    pod_template(w, spec.get("template") or {})
    _claim_templates(w, spec.get("volumeClaimTemplates") or [])
    describe_events(w, await search_events(ctx, sts))
    return w.text()


async def describe_daemonset(ctx: Context, ds: Obj) -> str:
    meta, spec, status = ds.get("metadata") or {}, ds.get("spec") or {}, ds.get("status") or {}
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    w.write(0, "Node-Selector:\t" + (",".join(f"{k}={v}" for k, v in sorted(node_selector.items()))
                                     or "<none>") + "\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    for title, field in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                         ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                         ("Number of Nodes Scheduled with Up-to-date Pods",
                          "updatedNumberScheduled"),
                         ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                         ("Number of Nodes Misscheduled", "numberMisscheduled")):
        w.write(0, f"{title}: {status.get(field, 0)}\n")
    w.write(0, f"Pods Status:\t{await _pods_status(ctx, ds)}\n")
    pod_template(w, spec.get("template") or {})
    describe_events(w, await search_events(ctx, ds))
    return w.text()


DESCRIBERS: dict[tuple[str, str], Describer] = {
    ("apps", "statefulsets"): describe_statefulset,
    ("apps", "daemonsets"): describe_daemonset,
}
