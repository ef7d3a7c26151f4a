"""The RollingUpdate strategy (``rolling.go``).

Each step either grows the new ReplicaSet within ``replicas + maxSurge``
pods or shrinks old ones while keeping ``replicas - maxUnavailable`` pods
available, then records progress.  Old ReplicaSets lose their unavailable
pods first, since removing those costs no availability.

Counts come from ReplicaSet status, which trails the pods a little; the
bounds use ``pods_upper_bound`` and ``available_lower_bound`` so that a
ReplicaSet still acting on its last resize never lets a step overshoot.
"""

from __future__ import annotations

from typing import Any

from controllers.deployment import util
from controllers.deployment.progress import DeploymentProgress
from machinery.reconciler import Requeue

__all__ = ["RollingUpdate"]

Obj = dict[str, Any]


class RollingUpdate(DeploymentProgress):
    async def rollout_rolling(self, d: Obj, rss: list[Obj]) -> Requeue | None:
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, True)
        assert new_rs is not None  # created when missing
        all_rss: list[Obj | None] = [*old, new_rs]
        if await self.reconcile_new_replicaset(all_rss, new_rs, d):
            return await self.sync_rollout_status(all_rss, new_rs, d)
        if await self.reconcile_old_replicasets(all_rss, util.filter_active(old), new_rs, d):
            return await self.sync_rollout_status(all_rss, new_rs, d)
        if util.deployment_complete(d, d.get("status") or {}):
            await self.cleanup(old, d)
        return await self.sync_rollout_status(all_rss, new_rs, d)

    async def reconcile_new_replicaset(self, all_rss: list[Obj | None], new_rs: Obj,
                                       d: Obj) -> bool:
        want = util.replicas(d)
        current = util.spec_replicas(new_rs)
        if current == want:
            return False
        if current > want:
            return await self.scale_replicaset_and_record_event(new_rs, want, d)
        return await self.scale_replicaset_and_record_event(
            new_rs, util.new_rs_new_replicas(d, all_rss, new_rs), d)

    async def reconcile_old_replicasets(self, all_rss: list[Obj | None], old: list[Obj],
                                        new_rs: Obj, d: Obj) -> bool:
        if util.total_spec(old) == 0:
            return False
        min_available = util.replicas(d) - util.max_unavailable(d)
        new_unavailable = util.spec_replicas(new_rs) - util.available_lower_bound([new_rs])
        max_scaled_down = util.total_spec(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = await self.cleanup_unhealthy_replicas(old, d, max_scaled_down)
        scaled = await self.scale_down_old_for_rolling_update([*old, new_rs], old, d)
        return cleaned + scaled > 0

    async def cleanup_unhealthy_replicas(self, old: list[Obj], d: Obj, limit: int) -> int:
        """Drop up to ``limit`` unavailable pods from old ReplicaSets, oldest first."""
        total = 0
        for rs in util.by_creation(old):
            if total >= limit:
                break
            size = util.spec_replicas(rs)
            unhealthy = size - util.available_lower_bound([rs])
            if size == 0 or unhealthy <= 0:
                continue
            cut = min(limit - total, unhealthy)
            await self.scale_replicaset_and_record_event(rs, size - cut, d)
            total += cut
        return total

    async def scale_down_old_for_rolling_update(self, all_rss: list[Obj | None],
                                                old: list[Obj], d: Obj) -> int:
        """Remove available old pods while availability stays above the minimum."""
        min_available = util.replicas(d) - util.max_unavailable(d)
        available = util.available_lower_bound(all_rss)
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in util.by_creation(old):
            if total >= budget:
                break
            size = util.spec_replicas(rs)
            if size == 0:
                continue
            cut = min(size, budget - total)
            await self.scale_replicaset_and_record_event(rs, size - cut, d)
            total += cut
        return total
