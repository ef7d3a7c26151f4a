"""``k8py.io/local-path``: volumes that are folders under one host directory.

A provisioned volume is a hostPath PersistentVolume on
``<root>/<pv-name>`` (default root ``/var/lib/k8py/volumes``).  Every k8py
node runs on this one machine and sees the host's paths -- in the compose
cluster the root is mounted at the same path into the node and controller
manager containers -- so a pod finds its data wherever it is scheduled.

The controller manager creates and deletes the folders itself.  Deletion is
refused for any path outside the root, so a reclaim policy of ``Delete`` on
a hand-made hostPath volume can never remove arbitrary host folders.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from controllers.persistentvolume.match import claim_ref

__all__ = ["PROVISIONER", "DEFAULT_ROOT", "PROVISIONED_BY", "LocalPathProvisioner"]

Obj = dict[str, Any]

PROVISIONER = "k8py.io/local-path"
DEFAULT_ROOT = "/var/lib/k8py/volumes"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


class LocalPathProvisioner:
    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def volume_name(self, claim: Obj) -> str:
        """Upstream's name for a dynamically provisioned volume: ``pvc-<claim uid>``."""
        return f"pvc-{claim['metadata']['uid']}"

    def volume_for(self, claim: Obj, storage_class: Obj) -> Obj:
        """The PersistentVolume for ``claim``, already promised to it."""
        name = self.volume_name(claim)
        spec = claim.get("spec") or {}
        return {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": str(((spec.get("resources") or {}).get("requests") or {})
                                            .get("storage"))},
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                "storageClassName": storage_class["metadata"]["name"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "hostPath": {"path": str(self.root / name), "type": "DirectoryOrCreate"},
                "claimRef": claim_ref(claim),
                **({"mountOptions": storage_class["mountOptions"]}
                   if storage_class.get("mountOptions") else {}),
            },
        }

    def owns(self, volume: Obj) -> bool:
        """A hostPath volume whose folder lies inside the root (ours to delete)."""
        path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
        if not path:
            return False
        resolved = Path(os.path.abspath(str(path)))
        return resolved != self.root and self.root in resolved.parents

    async def make_folder(self, volume: Obj) -> None:
        path = str(volume["spec"]["hostPath"]["path"])

        def make() -> None:
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)  # any container user may write its own data

        await asyncio.to_thread(make)

    async def remove_folder(self, volume: Obj) -> None:
        """Delete the volume's data; raises ``ValueError`` for paths outside the root."""
        if not self.owns(volume):
            raise ValueError(f"{volume['spec'].get('hostPath', {}).get('path')} is outside "
                             f"{self.root}: not a {PROVISIONER} volume")
        path = str(volume["spec"]["hostPath"]["path"])

        def remove() -> None:
            if os.path.lexists(path):
                shutil.rmtree(path)

        await asyncio.to_thread(remove)
