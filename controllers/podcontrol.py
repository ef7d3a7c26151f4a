"""Creating an owner's pods as every pod-owning controller must (``controller_utils.go``).

A controller that creates N pods must expect all N before the first create
goes out -- the informer's add event can arrive before the create call
returns -- and must mark the ones it never made as observed, or the owner
would wait for them until the expectations expire.  Creates go out in
slow-start batches, so an owner whose pods are refused (quota, admission)
fails once instead of N times.  Each create and delete is reported as an
event on the owner with Kubernetes' reasons; a delete that failed or found
the pod gone will never be seen by the informer, so its expectation is
settled at once.

The pods themselves start as ``GetPodFromTemplate`` makes them: the
template's labels, annotations, finalizers and spec, a name generated from
the owner's, and the owner's controller reference -- ReplicaSet, Job and
DaemonSet pods all begin so, then each adds its own (index, node pinning).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import meta_key
from machinery.meta import deepcopy_json, owner_reference
from machinery.slowstart import SLOW_START_INITIAL_BATCH_SIZE, slow_start_batch

__all__ = ["create_pods", "delete_pod", "pod_from_template", "SUCCESSFUL_CREATE",
           "FAILED_CREATE", "SUCCESSFUL_DELETE", "FAILED_DELETE"]

Obj = dict[str, Any]

SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"


def pod_from_template(owner: Obj, template: Obj | None = None) -> Obj:
    """A new pod for ``owner`` from ``template`` (default: its ``spec.template``).

    Only labels, annotations and finalizers of the template's metadata carry
    over, deep-copied so the cached owner is never aliased; the name is left
    to the API server's generator.
    """
    if template is None:
        template = owner["spec"].get("template") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": f"{owner['metadata']['name']}-",
                 "namespace": owner["metadata"].get("namespace"),
                 "ownerReferences": [owner_reference(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta[field] = deepcopy_json(tmeta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": deepcopy_json(template.get("spec") or {})}


def _namespace_terminating(exc: errors.ApiError) -> bool:
    return any(c.get("reason") == "NamespaceTerminating" for c in exc.causes)


async def create_pods(client: ApiClient, recorder: EventRecorder,
                      expectations: UIDTrackingExpectations, key: str, owner: Obj, count: int,
                      new_pod: Callable[[], Obj], *, already_expected: bool = False,
                      skip_terminating_namespace: bool = False) -> tuple[int, Exception | None]:
    """Create ``count`` pods made by ``new_pod`` for ``owner`` (queue key ``key``).

    ``already_expected``: the caller counted these creates in expectations
    it set together with its deletes (DaemonSet), so they are not reset
    here.  ``skip_terminating_namespace``: a create refused because the
    namespace is going is neither an error nor an event -- every later one
    would fail alike -- and the slow start carries on.

    Returns how many were created and the first error, if any.
    """
    if not already_expected:
        expectations.expect_creations(key, count)
    made = 0

    async def create_one() -> None:
        nonlocal made
        try:
            created = await client.create("pods", new_pod())
        except errors.ApiError as exc:
            if skip_terminating_namespace and _namespace_terminating(exc):
                return
            recorder.event(owner, WARNING, FAILED_CREATE, f"Error creating: {exc.message}")
            raise
        made += 1
        recorder.event(owner, NORMAL, SUCCESSFUL_CREATE,
                       f"Created pod: {created['metadata']['name']}")

    _, failures = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, create_one)
    for _ in range(count - made):
        expectations.creation_observed(key)  # never made, so never observed
    return made, (failures[0] if failures else None)


async def delete_pod(client: ApiClient, recorder: EventRecorder,
                     expectations: UIDTrackingExpectations | None, key: str, owner: Obj,
                     pod: Obj, *, first: Callable[[], Awaitable[Any]] | None = None,
                     **options: Any) -> None:
    """Delete one of ``owner``'s pods, whose deletion the caller expected under ``key``.

    ``first`` is a write that must precede the delete (the Job drops its
    tracking finalizer); its errors count as the delete's.  ``options`` go
    to ``client.delete`` as given.  ``expectations`` is None for deletes
    nobody waits on.  An ``ApiError`` other than NotFound is re-raised.
    """
    meta = pod["metadata"]
    try:
        if first is not None:
            await first()
        await client.delete("pods", meta["name"], meta.get("namespace"), **options)
    except errors.NotFound:
        if expectations is not None:
            expectations.deletion_observed_of(key, meta_key(pod))
        return
    except errors.ApiError as exc:
        # The informer will never see this deletion: stop expecting it.
        if expectations is not None:
            expectations.deletion_observed_of(key, meta_key(pod))
        recorder.event(owner, WARNING, FAILED_DELETE, f"Error deleting: {exc.message}")
        raise
    recorder.event(owner, NORMAL, SUCCESSFUL_DELETE, f"Deleted pod: {meta['name']}")
