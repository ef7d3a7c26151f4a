"""Admission checks the registry runs on create, named after kube-apiserver's plugins.

NamespaceLifecycle refuses content in a missing or terminating namespace;
DefaultStorageClass gives a claim that names no class the default one. Both
read storage directly, as admission plugins read the API server's own caches.
"""

from __future__ import annotations

from typing import Any

from machinery import errors

from .storage import Storage

__all__ = ["namespace_active", "default_storage_class"]

Obj = dict[str, Any]
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


async def namespace_active(storage: Storage, prefix: str, namespace: str) -> None:
    """NamespaceLifecycle: 404 for a missing namespace, 403 for one being deleted."""
    ns = await storage.get(f"{prefix}/core/namespaces/{namespace}")
    if ns is None:
        raise errors.NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
    terminating = (ns.get("metadata") or {}).get("deletionTimestamp") or \
        (ns.get("status") or {}).get("phase") == "Terminating"
    if terminating:
        message = f"unable to create new content in namespace {namespace} because it is being terminated"
        # The cause lets controllers tell this apart and skip quietly, as upstream's do.
        raise errors.Forbidden(message, name=namespace, kind="namespaces", causes=[
            {"reason": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}])


async def default_storage_class(storage: Storage, prefix: str, claim: Obj) -> None:
    """DefaultStorageClass: the newest class annotated as default, for a claim naming none."""
    spec = claim.get("spec")
    if not isinstance(spec, dict) or "storageClassName" in spec:
        return
    classes, _, _, _ = await storage.list(f"{prefix}/storage.k8s.io/storageclasses/")
    defaults = sorted(
        ((c.get("metadata") or {}).get("creationTimestamp") or "", c["metadata"]["name"]) for c in classes
        if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true")
    if defaults:
        spec["storageClassName"] = defaults[-1][1]
