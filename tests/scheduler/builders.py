"""Pods, nodes and snapshots as plain dicts, for the scheduler's unit tests."""

from __future__ import annotations

from typing import Any

from scheduler.framework import CycleState, NodeInfo, Snapshot

Obj = dict[str, Any]


def make_node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: int = 110,
              labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
              ready: str | None = "True", unschedulable: bool = False) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    node: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"capacity": dict(allocatable), "allocatable": allocatable, "conditions": []},
    }
    if ready is not None:
        node["status"]["conditions"].append({"type": "Ready", "status": ready})
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    return node


def make_pod(name: str, *, namespace: str = "default", cpu: str | None = None,
             memory: str | None = None, node: str | None = None,
             labels: dict[str, str] | None = None, host_ports: list[int] | None = None,
             owner_uid: str | None = None, tolerations: list[Obj] | None = None,
             node_selector: dict[str, str] | None = None, affinity: Obj | None = None,
             scheduler_name: str | None = None, priority: int | None = None,
             phase: str | None = None) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: Obj = {"name": "c", "image": "k8py/hello:1.0"}
    if requests:
        container["resources"] = {"requests": requests}
    if host_ports:
        container["ports"] = [{"containerPort": p, "hostPort": p, "protocol": "TCP"}
                              for p in host_ports]
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                 "labels": labels or {}}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": "rs", "uid": owner_uid, "controller": True}]
    spec: Obj = {"containers": [container], "schedulerName": scheduler_name or "default-scheduler"}
    for key, value in (("nodeName", node), ("tolerations", tolerations),
                       ("nodeSelector", node_selector), ("affinity", affinity),
                       ("priority", priority)):
        if value is not None:
            spec[key] = value
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                "status": {"phase": phase or "Pending"}}
    return pod


def node_info(node: Obj, *pods: Obj) -> NodeInfo:
    info = NodeInfo(node["metadata"]["name"])
    info.set_node(node)
    for pod in pods:
        info.add_pod(pod)
    return info


def cycle(*infos: NodeInfo, services: list[Obj] | None = None) -> CycleState:
    return CycleState(Snapshot(list(infos), list(services or ())))


def service(name: str, selector: dict[str, str], namespace: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"selector": selector}}
