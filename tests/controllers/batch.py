"""Builders and fakes for the Job, TTL and CronJob controller tests.

``BatchFakeClient`` extends the recording fake with the one strategic-merge
directive these controllers send, ``$deleteFromPrimitiveList/finalizers``,
and the finalizer list merge of adoption, applied as the API server applies
them.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from controllers.manager import ControllerContext
from machinery.informer import SharedInformerFactory
from machinery.meta import format_time
from machinery.workqueue import FakeClock
from tests.controllers.fakeclient import Action, FakeBroadcaster, FakeClient, wall_of

Obj = dict[str, Any]
TRACKING = "batch.kubernetes.io/job-tracking"
DELETE_FROM = "$deleteFromPrimitiveList/finalizers"


class BatchFakeClient(FakeClient):
    """The fake client plus finalizer list directives in strategic-merge patches."""

    async def patch(self, resource: Any, name: str, patch: Any, namespace: str | None = None,
                    *, patch_type: str = "merge", **kw: Any) -> Obj:
        meta = patch.get("metadata") or {} if isinstance(patch, dict) else {}
        if patch_type == "strategic" and (DELETE_FROM in meta or "finalizers" in meta):
            current = self.stored(resource, name, namespace) or {}
            finalizers = list((current.get("metadata") or {}).get("finalizers") or [])
            finalizers = [f for f in finalizers if f not in meta.get(DELETE_FROM, [])]
            finalizers += [f for f in meta.get("finalizers", []) if f not in finalizers]
            rest = {k: v for k, v in meta.items() if k not in (DELETE_FROM, "finalizers")}
            patch = dict(patch, metadata={**rest, "finalizers": finalizers or None})
        return await super().patch(resource, name, patch, namespace, patch_type=patch_type, **kw)


def batch_context(start: datetime | None = None, **options: Any) -> tuple[
        ControllerContext, BatchFakeClient, FakeClock]:
    """A controller context over the batch fake, whose wall clock moves with the fake clock."""
    clock = FakeClock()
    client = BatchFakeClient()
    factory = SharedInformerFactory(client, clock=clock)  # type: ignore[arg-type]
    client.factory = factory
    wall = wall_of(clock, start)
    client.now = format_time(wall())
    ctx = ControllerContext(client=client, informers=factory,  # type: ignore[arg-type]
                            events=FakeBroadcaster(),  # type: ignore[arg-type]
                            options=argparse.Namespace(**options), clock=clock, wall=wall)
    return ctx, client, clock


def job(name: str = "work", *, completions: int | None = 1, parallelism: int = 1,
        backoff_limit: int = 6, restart: str = "Never", uid: str | None = None,
        **spec: Any) -> Obj:
    """A Job as the API server stores it after defaulting (selector on the controller uid)."""
    uid = uid or f"uid-{name}"
    pod_labels = {"batch.kubernetes.io/controller-uid": uid,
                  "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
    body: Obj = {"parallelism": parallelism, "backoffLimit": backoff_limit,
                 "completionMode": "NonIndexed", "suspend": False,
                 "podReplacementPolicy": "TerminatingOrFailed",
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                 "template": {"metadata": {"labels": pod_labels},
                              "spec": {"restartPolicy": restart, "containers": [
                                  {"name": "main", "image": "k8py/toolbox:dev"}]}}}
    if completions is not None:
        body["completions"] = completions
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "uid": uid, "generation": 1},
            "spec": body}


def job_pods(client: FakeClient, name: str = "work") -> list[Obj]:
    """Stored pods whose controller is the Job ``name``, in creation (name) order."""
    found = [o for (q, _, _), o in client.objects.items() if q == "pods"
             and any(r.get("name") == name and r.get("kind") == "Job"
                     for r in o["metadata"].get("ownerReferences") or [])]
    return sorted(found, key=lambda p: str(p["metadata"]["name"]))


async def set_phase(client: FakeClient, pod: Obj, phase: str, finished: str | None = None,
                    restarts: int = 0) -> None:
    """Write a pod's phase through pods/status, as its kubelet would."""
    fresh = await client.get("pods", pod["metadata"]["name"], "default")
    state: Obj = {"running": {}}
    if finished is not None:
        state = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                                "finishedAt": finished}}
    ready = "True" if phase == "Running" else "False"
    fresh["status"] = {"phase": phase,
                       "conditions": [{"type": "Ready", "status": ready,
                                       "lastTransitionTime": finished or client.now}],
                       "containerStatuses": [{"name": "main", "state": state,
                                              "restartCount": restarts}]}
    await client.update_status("pods", fresh)


def writes_of(client: FakeClient, verb: str, resource: str) -> list[Action]:
    return [a for a in client.writes() if a.verb == verb and a.resource == resource]


def events(ctx: ControllerContext, component: str) -> list[tuple[str, str, str, str]]:
    return list(ctx.events.recorders[component].events)  # type: ignore[attr-defined]
