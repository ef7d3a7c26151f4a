"""Object builders for the StatefulSet, DaemonSet and volume controller tests."""

from __future__ import annotations

from typing import Any

from machinery.client import resolve_resource
from tests.controllers.fakeclient import FakeClient

Obj = dict[str, Any]


def statefulset(name: str = "web", replicas: int = 3, *, image: str = "k8py/toolbox:dev",
                policy: str = "OrderedReady", claims: tuple[str, ...] = ("www",),
                when_deleted: str = "Retain", when_scaled: str = "Retain",
                strategy: Obj | None = None, **spec: Any) -> Obj:
    templates = [{"metadata": {"name": claim},
                  "spec": {"accessModes": ["ReadWriteOnce"],
                           "resources": {"requests": {"storage": "1Gi"}}}} for claim in claims]
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default", "generation": 1, "uid": f"uid-{name}"},
        "spec": {
            "replicas": replicas, "serviceName": name, "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": image}]}},
            "volumeClaimTemplates": templates,
            "updateStrategy": strategy or {"type": "RollingUpdate",
                                           "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted,
                                                     "whenScaled": when_scaled},
            "revisionHistoryLimit": 10, **spec},
    }


def stored_pods(client: FakeClient) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for (q, _, _), o in client.objects.items() if q == "pods"}


def stored_claims(client: FakeClient) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for (q, _, _), o in client.objects.items()
            if q == "persistentvolumeclaims"}


def stored(client: FakeClient, plural: str) -> dict[str, Obj]:
    qualified = resolve_resource(plural).qualified
    return {o["metadata"]["name"]: o for (q, _, _), o in client.objects.items() if q == qualified}


async def set_phase(client: FakeClient, name: str, phase: str, ready: bool = False,
                    since: str = "2024-01-01T00:00:00Z") -> None:
    """Give a pod a phase (and Ready condition) through the status subresource."""
    pod = await client.get("pods", name, "default")
    status: Obj = {"phase": phase}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": since}]
    pod["status"] = status
    await client.update_status("pods", pod)


async def bump_template(client: FakeClient, name: str, image: str,
                        resource: str = "statefulsets") -> None:
    """Change the pod template's image, as ``set image`` would (generation moves)."""
    obj = await client.get(resource, name, "default")
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    obj["metadata"]["generation"] = int(obj["metadata"].get("generation") or 1) + 1
    await client.update(resource, obj)


def node(name: str, *, labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None) -> Obj:
    spec: Obj = {"taints": taints} if taints else {}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def daemonset(name: str = "agent", *, image: str = "k8py/hello:1.0",
              max_unavailable: int | str = 1, strategy: str = "RollingUpdate",
              **pod_spec: Any) -> Obj:
    update: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": max_unavailable, "maxSurge": 0}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default", "generation": 1, "uid": f"uid-{name}"},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}],
                                       **pod_spec}},
                 "updateStrategy": update, "revisionHistoryLimit": 10},
    }
