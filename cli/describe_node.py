"""``describe node``: conditions, capacity, system info, its pods and what they reserve.

As kubectl's ``describeNode``: the node's Lease (from ``kube-node-lease``),
the non-terminated pods bound to it with their CPU and memory requests and
limits as a share of allocatable, and the totals.  A pod's requests are the
larger of its containers' sum and its largest init container, plus overhead,
which is how the scheduler counts them.
"""

from __future__ import annotations

from typing import Any

from cli.context import Context
from cli.describe import (Describer, Writer, annotations_multiline, describe_events,
                          labels_multiline, rfc1123z, search_events, since)
from machinery.quantity import Quantity

__all__ = ["DESCRIBERS", "describe_node", "pod_totals"]

_ROLE_PREFIX = "node-role.kubernetes.io/"
_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _sum(lists: list[dict[str, Any]]) -> dict[str, Quantity]:
    total: dict[str, Quantity] = {}
    for entries in lists:
        for name, value in entries.items():
            total[name] = total.get(name, Quantity()) + Quantity.parse(value)
    return total


def pod_totals(pod: dict[str, Any], field: str) -> dict[str, Quantity]:
    """A pod's effective ``requests`` or ``limits`` per resource."""
    spec = pod.get("spec") or {}
    total = _sum([(c.get("resources") or {}).get(field) or {} for c in spec.get("containers") or []])
    for init in spec.get("initContainers") or []:
        for name, value in ((init.get("resources") or {}).get(field) or {}).items():
            quantity = Quantity.parse(value)
            if name not in total or total[name] < quantity:
                total[name] = quantity
    for name, value in (spec.get("overhead") or {}).items():
        if name in total:
            total[name] = total[name] + Quantity.parse(value)
    return total


def _percent(used: Quantity, available: Quantity, milli: bool) -> int:
    if not available:
        return 0
    scale = 1000 if milli else 1
    return int(used.value * scale * 100 / (available.value * scale))


def _lease(w: Writer, lease: dict[str, Any]) -> None:
    spec = lease.get("spec") or {}
    w.write(0, "Lease:\n")
    w.write(1, f"HolderIdentity:\t{spec.get('holderIdentity') or '<unset>'}\n")
    w.write(1, f"AcquireTime:\t{rfc1123z(spec['acquireTime']) if spec.get('acquireTime') else '<unset>'}\n")
    w.write(1, f"RenewTime:\t{rfc1123z(spec['renewTime']) if spec.get('renewTime') else '<unset>'}\n")


def _pods(w: Writer, pods: list[dict[str, Any]], allocatable: dict[str, Any]) -> None:
    avail = {name: Quantity.parse(allocatable.get(name, 0)) for name in _RESOURCES}
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    requests: list[dict[str, Quantity]] = []
    limits: list[dict[str, Quantity]] = []
    for pod in pods:
        req, lim = pod_totals(pod, "requests"), pod_totals(pod, "limits")
        requests.append(req)
        limits.append(lim)
        cells = []
        for values in (req, lim):
            quantity = values.get("cpu", Quantity())
            cells.append(f"{quantity} ({_percent(quantity, avail['cpu'], True)}%)")
        cpu_req, cpu_lim = cells
        cells = []
        for values in (req, lim):
            quantity = values.get("memory", Quantity())
            cells.append(f"{quantity} ({_percent(quantity, avail['memory'], False)}%)")
        meta = pod.get("metadata") or {}
        w.write(1, f"{meta.get('namespace', '')}\t{meta.get('name', '')}\t\t{cpu_req}\t{cpu_lim}\t"
                   f"{cells[0]}\t{cells[1]}\t{since(meta.get('creationTimestamp'))}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    total_req = _sum([{k: str(v) for k, v in r.items()} for r in requests])
    total_lim = _sum([{k: str(v) for k, v in r.items()} for r in limits])
    for name in _RESOURCES:
        asked, capped = total_req.get(name, Quantity()), total_lim.get(name, Quantity())
        milli = name == "cpu"
        w.write(1, f"{name}\t{asked} ({_percent(asked, avail[name], milli)}%)\t"
                   f"{capped} ({_percent(capped, avail[name], milli)}%)\n")


async def describe_node(ctx: Context, node: dict[str, Any]) -> str:
    from machinery.errors import NotFound

    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    labels = meta.get("labels") or {}
    roles = sorted({k[len(_ROLE_PREFIX):] for k in labels if k.startswith(_ROLE_PREFIX)
                    and k[len(_ROLE_PREFIX):]} | ({labels["kubernetes.io/role"]}
                                                 if labels.get("kubernetes.io/role") else set()))
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
    labels_multiline(w, "Labels", labels)
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = sorted(spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    w.write(0, "Taints:\t")
    if not taints:
        w.line("<none>")
    for i, taint in enumerate(taints):
        value = f"={taint['value']}" if taint.get("value") else ""
        w.write(0, ("\t" if i else "") + f"{taint.get('key', '')}{value}:{taint.get('effect', '')}\n")
    w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    try:
        _lease(w, await ctx.client.get("leases", meta.get("name", ""), "kube-node-lease"))
    except NotFound as exc:
        w.write(0, f"Lease:\tFailed to get lease: {exc.message}\n")
    if status.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in status["conditions"]:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \t"
                       f"{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                       f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t"
                       f"{c.get('message', '')}\n")
    w.write(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w.write(1, f"{address.get('type', '')}:\t{address.get('address', '')}\n")
    for title in ("capacity", "allocatable"):
        if status.get(title):
            w.write(0, f"{title.capitalize()}:\n")
            for name in sorted(status[title]):
                w.write(0, f"  {name}:\t{status[title][name]}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, field in (("Machine ID", "machineID"), ("System UUID", "systemUUID"),
                         ("Boot ID", "bootID"), ("Kernel Version", "kernelVersion"),
                         ("OS Image", "osImage"), ("Operating System", "operatingSystem"),
                         ("Architecture", "architecture"),
                         ("Container Runtime Version", "containerRuntimeVersion"),
                         ("Kubelet Version", "kubeletVersion"),
                         ("Kube-Proxy Version", "kubeProxyVersion")):
        w.write(0, f"  {title}:\t{info.get(field, '')}\n")
    w.optional(0, "PodCIDR", spec.get("podCIDR"))
    w.optional(0, "PodCIDRs", ",".join(spec.get("podCIDRs") or []))
    w.optional(0, "ProviderID", spec.get("providerID"))
    pods, _ = await ctx.client.list_all(
        "pods", None, field_selector=f"spec.nodeName={meta.get('name', '')},"
                                     "status.phase!=Succeeded,status.phase!=Failed")
    _pods(w, pods, status.get("allocatable") or status.get("capacity") or {})
    describe_events(w, await search_events(ctx, node))
    return w.text()


DESCRIBERS: dict[tuple[str, str], Describer] = {("", "nodes"): describe_node}
