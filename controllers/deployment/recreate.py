"""The Recreate strategy (``recreate.go``): all old pods go before any new one starts.

Old ReplicaSets are scaled to zero first; the new ReplicaSet is created
and scaled up only once no old pod is left running (terminal pods do not
count), so two versions never run side by side.
"""

from __future__ import annotations

from typing import Any

from controllers.deployment import util
from controllers.deployment.progress import DeploymentProgress
from machinery.reconciler import Requeue

__all__ = ["Recreate", "old_pods_running"]

Obj = dict[str, Any]


def old_pods_running(new_rs: Obj | None, old: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    if util.total_status(old) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        if any((p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods):
            return True
    return False


class Recreate(DeploymentProgress):
    async def rollout_recreate(self, d: Obj, rss: list[Obj],
                               pod_map: dict[str, list[Obj]]) -> Requeue | None:
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, False)
        all_rss: list[Obj | None] = [*old, new_rs]
        scaled_down = False
        for rs in util.filter_active(old):
            scaled_down = await self.scale_replicaset_and_record_event(rs, 0, d) or scaled_down
        if scaled_down or old_pods_running(new_rs, old, pod_map):
            return await self.sync_rollout_status(all_rss, new_rs, d)
        if new_rs is None:
            new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, True)
            all_rss = [*old, new_rs]
        assert new_rs is not None
        await self.scale_replicaset_and_record_event(new_rs, util.replicas(d), d)
        if util.deployment_complete(d, d.get("status") or {}):
            await self.cleanup(old, d)
        return await self.sync_rollout_status(all_rss, new_rs, d)
