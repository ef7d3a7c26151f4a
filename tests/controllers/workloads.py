"""Object builders for the ReplicaSet and Deployment controller tests."""

from __future__ import annotations

from typing import Any

from tests.controllers.fakeclient import FakeClient

Obj = dict[str, Any]
NOW = "2024-01-01T00:00:00Z"


def template(app: str = "web", image: str = "k8py/hello:1.0") -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def replicaset(name: str = "web", replicas: int = 3, *, app: str = "web",
               owner: Obj | None = None, min_ready: int = 0, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": "default", "generation": 1,
                     "labels": {"app": app}, **meta}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata,
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": app}}, "template": template(app)}}


def deployment(name: str = "web", replicas: int = 3, *, image: str = "k8py/hello:1.0",
               surge: int | str = "25%", unavailable: int | str = "25%",
               strategy: str = "RollingUpdate", **spec: Any) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "generation": 1,
                         "uid": f"uid-{name}"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": template(image=image), "strategy": strat,
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, **spec}}


def controller_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def pod(name: str, *, app: str = "web", owner: Obj | None = None, node: str = "",
        phase: str = "Pending", ready_since: str | None = None, restarts: int = 0,
        created: str = NOW, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": "default", "labels": {"app": app},
                     "uid": f"uid-{name}", "creationTimestamp": created, **meta}
    if owner is not None:
        metadata["ownerReferences"] = [controller_ref(owner)]
    status: Obj = {"phase": phase,
                   "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready_since is not None:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": ready_since}]
    spec: Obj = {"containers": [{"name": "c", "image": "k8py/hello:1.0"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
            "status": status}


def pods_of(client: FakeClient, owner: Obj | None = None) -> list[Obj]:
    """Stored pods, optionally only those whose controller is ``owner``."""
    found = [o for (q, _, _), o in client.objects.items() if q == "pods"]
    if owner is None:
        return found
    uid = owner["metadata"]["uid"]
    return [p for p in found
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])]


async def make_ready(client: FakeClient, pods: list[Obj], since: str = NOW) -> None:
    """Mark pods Running and Ready, as a kubelet would, through the status subresource."""
    for p in pods:
        fresh = await client.get("pods", p["metadata"]["name"], "default")
        fresh["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": since}]}
        await client.update_status("pods", fresh)
