"""ReplicaSet bookkeeping shared by every Deployment strategy (``sync.go`` upstream).

Finding the deployment's ReplicaSets and which of them is "new" (its
template is the deployment's), creating the new one under the name
``<deployment>-<pod-template-hash>``, keeping revision numbers, scaling
proportionally when the deployment is resized mid-rollout, pruning history
beyond ``revisionHistoryLimit``, and computing ``status``.

ReplicaSets handed around here are private copies; a write replaces the
copy's contents in place with the server's answer, so every list that
holds it sees the new resourceVersion and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controllers.deployment import util
from controllers.refmanager import ControllerRefManager, recheck_owner
from machinery import errors
from machinery.client import ApiClient
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.informer import Informer
from machinery.meta import deepcopy_json, get_controller_of, owner_reference
from machinery.selectors import label_selector_from_dict

__all__ = ["DeploymentSync", "replace_in_place", "find_active_or_latest"]

Obj = dict[str, Any]
SCALING_REPLICA_SET = "ScalingReplicaSet"


def replace_in_place(target: Obj, new: Obj) -> None:
    target.clear()
    target.update(new)


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The one ReplicaSet with pods, or the newest if none has any; None if several do."""
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(util.by_creation(old_rss)))
    active = util.filter_active([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


class DeploymentSync:
    """Methods of ``DeploymentController`` that every strategy builds on."""

    client: ApiClient
    recorder: EventRecorder
    wall: Callable[[], datetime]
    rs_informer: Informer
    pod_informer: Informer
    log: logging.Logger

    # -- reading ----------------------------------------------------------------

    async def replicasets_for(self, d: Obj) -> list[Obj]:
        """Claim the ReplicaSets the selector matches; private copies of those we own."""
        selector = label_selector_from_dict(d["spec"].get("selector"))
        manager = ControllerRefManager(self.client, d, selector, "replicasets",
                                       recheck_owner(self.client, "deployments", d))
        claimed = await manager.claim(self.rs_informer.list(d["metadata"].get("namespace")))
        return [deepcopy_json(rs) for rs in claimed]

    def pod_map(self, d: Obj, rss: list[Obj]) -> dict[str, list[Obj]]:
        """The deployment's pods grouped by the uid of the ReplicaSet controlling them."""
        selector = label_selector_from_dict(d["spec"].get("selector"))
        grouped: dict[str, list[Obj]] = {str(rs["metadata"]["uid"]): [] for rs in rss}
        for pod in self.pod_informer.list(d["metadata"].get("namespace")):
            if not selector.matches((pod.get("metadata") or {}).get("labels")):
                continue
            ref = get_controller_of(pod)
            if ref is not None and str(ref.get("uid")) in grouped:
                grouped[str(ref["uid"])].append(pod)
        return grouped

    # -- writing the deployment ---------------------------------------------------

    async def update_deployment_status(self, d: Obj) -> None:
        updated = await self.client.update_status("deployments", d)
        replace_in_place(d, updated)

    async def sync_revision(self, d: Obj, revision: int | str) -> None:
        """Record the new ReplicaSet's revision on the deployment itself.

        Kubernetes lets the status update carry this annotation; here it is
        its own conditional patch, so the pending status survives it.
        """
        value = str(revision)
        meta = d["metadata"]
        if (meta.get("annotations") or {}).get(util.REVISION) == value:
            return
        status = d.get("status")
        patched = await self.client.patch(
            "deployments", meta["name"],
            {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                          "annotations": {util.REVISION: value}}},
            meta.get("namespace"), patch_type="merge")
        replace_in_place(d, patched)
        if status is not None:
            d["status"] = status

    # -- the new ReplicaSet ------------------------------------------------------

    async def all_replicasets_and_sync_revision(
            self, d: Obj, rss: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        _, old = util.find_old_replicasets(d, rss)
        new = await self.new_replicaset(d, rss, old, create)
        return new, old

    async def new_replicaset(self, d: Obj, rss: list[Obj], old: list[Obj],
                             create: bool) -> Obj | None:
        """The new ReplicaSet, brought up to date -- or created when ``create``."""
        existing = util.find_new_replicaset(d, rss)
        new_revision = util.max_revision(old) + 1
        now = self.wall()
        if existing is not None:
            changed = util.set_new_replicaset_annotations(d, existing, new_revision, exists=True)
            min_ready = int(d["spec"].get("minReadySeconds") or 0)
            if changed or int(existing["spec"].get("minReadySeconds") or 0) != min_ready:
                existing["spec"]["minReadySeconds"] = min_ready
                replace_in_place(existing, await self.client.update("replicasets", existing))
                return existing
            await self.sync_revision(d, util.revision(existing))
            status = d.setdefault("status", {})
            if util.has_progress_deadline(d) and util.get_condition(status, util.PROGRESSING) is None:
                util.set_condition(status, util.new_condition(
                    util.PROGRESSING, "True", util.FOUND_NEW_RS,
                    f'Found new replica set "{_name(existing)}"', now))
                await self.update_deployment_status(d)
            return existing
        if not create:
            return None
        return await self._create_new_replicaset(d, old, new_revision, now)

    def _new_replicaset_object(self, d: Obj, old: list[Obj], new_revision: int) -> Obj:
        template = deepcopy_json(d["spec"].get("template") or {})
        pod_hash = util.compute_hash(template, (d.get("status") or {}).get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        selector = deepcopy_json(d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}),
                                   util.POD_TEMPLATE_HASH: pod_hash}
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{_name(d)}-{pod_hash}",
                         "namespace": d["metadata"].get("namespace"),
                         "labels": dict(tmeta["labels"]),
                         "ownerReferences": [owner_reference(d)]},
            "spec": {"replicas": 0, "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                     "selector": selector, "template": template},
        }
        rs["spec"]["replicas"] = util.new_rs_new_replicas(d, [*old, rs], rs)
        util.set_new_replicaset_annotations(d, rs, new_revision, exists=False)
        return rs

    async def _create_new_replicaset(self, d: Obj, old: list[Obj], new_revision: int,
                                     now: datetime) -> Obj:
        rs = self._new_replicaset_object(d, old, new_revision)
        status = d.setdefault("status", {})
        already_existed = False
        try:
            created = await self.client.create("replicasets", rs)
        except errors.AlreadyExists:
            found = await self._existing(rs)
            ref = get_controller_of(found) if found is not None else None
            if (found is None or ref is None or ref.get("uid") != d["metadata"]["uid"]
                    or not util.equal_ignore_hash(d["spec"].get("template"),
                                                  found["spec"].get("template"))):
                # A namesake with another template: hash again with a new collision count.
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self.update_deployment_status(d)
                raise
            created, already_existed = found, True
        except errors.ApiError as exc:
            message = f'Failed to create new replica set "{_name(rs)}": {exc.message}'
            if util.has_progress_deadline(d):
                util.set_condition(status, util.new_condition(
                    util.PROGRESSING, "False", util.FAILED_RS_CREATE, message, now))
                await self.update_deployment_status(d)
            self.recorder.event(d, WARNING, util.FAILED_RS_CREATE, message)
            raise
        replicas = util.spec_replicas(created)
        if not already_existed and replicas > 0:
            self.recorder.event(d, NORMAL, SCALING_REPLICA_SET,
                                f"Scaled up replica set {_name(created)} from 0 to {replicas}")
        await self.sync_revision(d, new_revision)
        if not already_existed and util.has_progress_deadline(d):
            util.set_condition(d.setdefault("status", {}), util.new_condition(
                util.PROGRESSING, "True", util.NEW_RS_CREATED,
                f'Created new replica set "{_name(created)}"', now))
            await self.update_deployment_status(d)
        return created

    async def _existing(self, rs: Obj) -> Obj | None:
        meta = rs["metadata"]
        cached = self.rs_informer.get(f"{meta['namespace']}/{meta['name']}")
        if cached is not None:
            return deepcopy_json(cached)
        try:
            return await self.client.get("replicasets", meta["name"], meta["namespace"])
        except errors.NotFound:
            return None

    # -- scaling ------------------------------------------------------------------

    async def scale_replicaset(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> bool:
        """Set size and replica annotations; True if the size changed."""
        want = util.replicas(d)
        biggest = want + util.max_surge(d)
        resize = util.spec_replicas(rs) != new_scale
        if not resize and not util.replicas_annotations_need_update(rs, want, biggest):
            return False
        old_scale = util.spec_replicas(rs)
        rs["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(rs, want, biggest)
        replace_in_place(rs, await self.client.update("replicasets", rs))
        if resize:
            self.recorder.event(d, NORMAL, SCALING_REPLICA_SET,
                                f"Scaled {operation} replica set {_name(rs)} "
                                f"from {old_scale} to {new_scale}")
        return resize

    async def scale_replicaset_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> bool:
        current = util.spec_replicas(rs)
        if current == new_scale:
            return False
        return await self.scale_replicaset(rs, new_scale, d, "up" if current < new_scale else "down")

    async def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Follow a change of ``spec.replicas``, proportionally across ReplicaSets mid-rollout."""
        want = util.replicas(d)
        only = find_active_or_latest(new_rs, old_rss)
        if only is not None:
            if util.spec_replicas(only) != want:
                await self.scale_replicaset_and_record_event(only, want, d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.filter_active(old_rss):
                await self.scale_replicaset_and_record_event(old, 0, d)
            return
        if not util.is_rolling(d):
            return
        active = util.filter_active([*old_rss, new_rs])
        allowed = want + util.max_surge(d) if want > 0 else 0
        to_add = allowed - util.total_spec(active)
        if to_add > 0:
            active = util.by_size_newer(active)
        elif to_add < 0:
            active = util.by_size_older(active)
        sizes: dict[str, int] = {}
        added = 0
        for rs in active:
            share = self._proportion(rs, d, to_add, added) if to_add else 0
            sizes[_name(rs)] = util.spec_replicas(rs) + share
            added += share
        if to_add and active:
            first = _name(active[0])
            sizes[first] = max(sizes[first] + to_add - added, 0)
        operation = "up" if to_add > 0 else "down"
        for rs in active:
            await self.scale_replicaset(rs, sizes[_name(rs)], d, operation)

    @staticmethod
    def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
        if util.spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        want = util.replicas(d)
        if want == 0:
            fraction = -util.spec_replicas(rs)
        else:
            total = want + util.max_surge(d)
            annotated = util.max_replicas_annotation(rs)
            if annotated is None:
                annotated = int((d.get("status") or {}).get("replicas") or 0)
            if annotated == 0:
                fraction = 0
            else:
                fraction = util.round_half_away(util.spec_replicas(rs) * total / annotated) \
                    - util.spec_replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    async def is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        """Whether ``spec.replicas`` changed since the active ReplicaSets were sized."""
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, False)
        for rs in util.filter_active([new_rs, *old]):
            desired = util.desired_replicas_annotation(rs)
            if desired is not None and desired != util.replicas(d):
                return True
        return False

    # -- paused, cleanup, status ---------------------------------------------------

    async def sync(self, d: Obj, rss: list[Obj]) -> None:
        """Scaling and paused deployments: resize, no rollout progress."""
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, False)
        await self.scale(d, new_rs, old)
        if d["spec"].get("paused") and not util.annotations_of(d).get(util.ROLLBACK_TO):
            await self.cleanup(old, d)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def sync_status_only(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, False)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def check_paused_conditions(self, d: Obj) -> None:
        """Mark Progressing Unknown while paused, so no deadline runs out meanwhile."""
        if not util.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = util.get_condition(status, util.PROGRESSING)
        if cond is not None and cond.get("reason") == util.TIMED_OUT:
            return
        paused_shown = cond is not None and cond.get("reason") == util.PAUSED
        now = self.wall()
        if d["spec"].get("paused") and not paused_shown:
            util.set_condition(status, util.new_condition(
                util.PROGRESSING, "Unknown", util.PAUSED, "Deployment is paused", now))
        elif not d["spec"].get("paused") and paused_shown:
            util.set_condition(status, util.new_condition(
                util.PROGRESSING, "Unknown", util.RESUMED, "Deployment is resumed", now))
        else:
            return
        await self.update_deployment_status(d)

    async def cleanup(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest empty ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None or int(limit) == 2**31 - 1:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        surplus = len(alive) - int(limit)
        for rs in util.by_revision(alive)[:max(surplus, 0)]:
            status = rs.get("status") or {}
            if (int(status.get("replicas") or 0) != 0 or util.spec_replicas(rs) != 0
                    or int(rs["metadata"].get("generation") or 1)
                    > int(status.get("observedGeneration") or 0)):
                continue  # still has pods, or its controller has not caught up
            self.log.info("deployment %s/%s: deleting old replica set %s",
                          d["metadata"].get("namespace"), _name(d), _name(rs))
            try:
                await self.client.delete("replicasets", _name(rs), rs["metadata"].get("namespace"))
            except errors.NotFound:
                pass

    def calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
        available = util.total_available(all_rss)
        unavailable = max(util.total_spec(all_rss) - available, 0)
        status: Obj = {
            "observedGeneration": int(d["metadata"].get("generation") or 1),
            "replicas": util.total_status(all_rss),
            "updatedReplicas": util.total_status([new_rs]),
            "readyReplicas": util.total_ready(all_rss),
            "availableReplicas": available,
            "unavailableReplicas": unavailable,
        }
        status = {k: v for k, v in status.items() if v}
        old = d.get("status") or {}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = deepcopy_json(old["conditions"])
        now = self.wall()
        if available >= util.replicas(d) - util.max_unavailable(d):
            cond = util.new_condition(util.AVAILABLE, "True", util.MIN_AVAILABLE,
                                      "Deployment has minimum availability.", now)
        else:
            cond = util.new_condition(util.AVAILABLE, "False", util.MIN_UNAVAILABLE,
                                      "Deployment does not have minimum availability.", now)
        util.set_condition(status, cond)
        return status

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None,
                                     d: Obj) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        if util.status_equal(d.get("status"), status):
            return
        d["status"] = status
        await self.update_deployment_status(d)
