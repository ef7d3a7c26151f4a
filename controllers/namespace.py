"""The namespace controller: a deleted namespace is emptied, then finalized.

As ``pkg/controller/namespace/deletion`` does: while a namespace carries a
deletionTimestamp and its ``kubernetes`` finalizer, delete the content of
every namespaced kind (a collection delete where the kind allows one, else
object by object), then list again to see what remains -- pods wait for
their kubelets, objects for their finalizers.  Progress is published as the
upstream namespace conditions.  Once nothing remains the controller drops
its finalizer through ``namespaces/<name>/finalize`` and the API server
removes the namespace.  It reads live lists rather than caches, so a cache
that lags cannot make it finalize a namespace that still has content.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from controllers.base import QueueController
from controllers.manager import ControllerContext
from machinery import errors
from machinery.meta import deepcopy_json, is_being_deleted, now_rfc3339, set_condition
from machinery.reconciler import Requeue
from machinery.resources import RESOURCES, Resource

__all__ = ["NamespaceController", "FINALIZER", "namespace_conditions"]

Obj = dict[str, Any]

FINALIZER = "kubernetes"

# (type, ok reason, ok message) of the conditions the deleter maintains, in upstream order.
_CONDITIONS = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
     "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
     "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentRemoved", "All content successfully removed"),
)


@dataclass
class _Progress:
    """What one pass over the namespace's content found."""

    remaining: Counter[str] = field(default_factory=Counter)
    finalizers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def namespace_conditions(progress: _Progress) -> list[dict[str, str]]:
    """The deleter's conditions for one pass (messages sorted for stable updates)."""
    failing: dict[str, tuple[str, str]] = {}
    if progress.failures:
        failing["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(progress.failures)} remaining: "
            + ", ".join(sorted(progress.failures)))
    if progress.remaining:
        counts = sorted(f"{name} has {n} resource instances"
                        for name, n in progress.remaining.items())
        failing["NamespaceContentRemaining"] = (
            "SomeResourcesRemain", "Some resources are remaining: " + ", ".join(counts))
    if progress.finalizers:
        counts = sorted(f"{name} in {n} resource instances"
                        for name, n in progress.finalizers.items())
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizerRemain", "Some finalizers are remaining: " + ", ".join(counts))
    out = []
    for type_, ok_reason, ok_message in _CONDITIONS:
        if type_ in failing:
            reason, message = failing[type_]
            out.append({"type": type_, "status": "True", "reason": reason, "message": message})
        else:
            out.append({"type": type_, "status": "False", "reason": ok_reason,
                        "message": ok_message})
    return out


def _content_kinds() -> list[Resource]:
    return [r for r in RESOURCES if r.namespaced and "list" in r.verbs and "delete" in r.verbs]


class NamespaceController(QueueController):
    """Keyed by namespace name."""

    def __init__(self, ctx: ControllerContext, *, recheck_after: float = 1.0) -> None:
        self.client = ctx.client
        self.recheck_after = recheck_after
        self.kinds = _content_kinds()
        self.namespaces = ctx.informers.informer("namespaces")
        super().__init__("namespace", [self.namespaces], clock=ctx.clock)
        self.namespaces.add_handler(self._changed, lambda _old, new: self._changed(new))

    def _changed(self, namespace: Obj) -> None:
        if is_being_deleted(namespace):
            self.enqueue(namespace)

    async def reconcile(self, key: str) -> Requeue | None:
        namespace = self.namespaces.get(key)
        if namespace is None or not is_being_deleted(namespace):
            return None
        if FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or ()):
            return None  # our part is done; other finalizers belong to others
        progress = _Progress()
        for resource in self.kinds:
            await self._delete_content(key, resource, progress)
        namespace = await self._update_status(namespace, progress)
        if progress.failures:
            raise errors.InternalError(
                f"namespace {key}: deleting content failed: {'; '.join(progress.failures)}")
        if progress.remaining:
            return Requeue(after=self.recheck_after)
        await self._finalize(namespace)
        return None

    async def _delete_content(self, namespace: str, resource: Resource,
                              progress: _Progress) -> None:
        try:
            if "deletecollection" in resource.verbs:
                await self.client.delete_collection(resource, namespace,
                                                    propagation_policy="Background")
            else:
                items, _ = await self.client.list_all(resource, namespace)
                for item in items:
                    if not is_being_deleted(item):
                        try:
                            await self.client.delete(resource, item["metadata"]["name"],
                                                     namespace, propagation_policy="Background")
                        except errors.NotFound:
                            pass
            items, _ = await self.client.list_all(resource, namespace)
        except errors.ApiError as exc:
            progress.failures.append(f"{resource.qualified}: {exc.message}")
            return
        if items:
            progress.remaining[f"{resource.plural}.{resource.group}"] += len(items)
        for item in items:
            for finalizer in (item.get("metadata") or {}).get("finalizers") or ():
                progress.finalizers[finalizer] += 1

    async def _update_status(self, namespace: Obj, progress: _Progress) -> Obj:
        new = deepcopy_json(namespace)
        status = new.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        now = now_rfc3339()
        changed = status.get("phase") != "Terminating"
        status["phase"] = "Terminating"
        for cond in namespace_conditions(progress):
            changed = set_condition(conditions, cond, now) or changed
        if not changed:
            return namespace
        try:
            return await self.client.update_status("namespaces", new)
        except errors.NotFound:
            return namespace

    async def _finalize(self, namespace: Obj) -> None:
        body = deepcopy_json(namespace)
        spec = body.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != FINALIZER]
        self.log.info("namespace %s is empty, finalizing", namespace["metadata"]["name"])
        try:
            await self.client.update("namespaces", body, subresource="finalize")
        except errors.NotFound:
            return
