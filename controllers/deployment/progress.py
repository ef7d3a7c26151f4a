"""Rollout progress: the Progressing condition and ``progressDeadlineSeconds`` (``progress.go``).

After every rollout step the controller records whether the rollout moved
(ReplicaSetUpdated, with a fresh ``lastUpdateTime``), finished
(NewReplicaSetAvailable) or has not moved for longer than the deadline
(ProgressDeadlineExceeded).  Nothing else wakes the controller when a
rollout stalls -- a stalled rollout produces no events -- so a sync that
changes nothing asks to be re-run just after the deadline would pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from controllers.deployment import util
from controllers.deployment.sync import DeploymentSync
from machinery.meta import parse_time
from machinery.reconciler import Requeue

__all__ = ["DeploymentProgress"]

Obj = dict[str, Any]


class DeploymentProgress(DeploymentSync):
    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None,
                                  d: Obj) -> Requeue | None:
        now = self.wall()
        status = self.calculate_status(all_rss, new_rs, d)
        if not util.has_progress_deadline(d):
            util.remove_condition(status, util.PROGRESSING)
        current = util.get_condition(d.get("status") or {}, util.PROGRESSING)
        complete = (int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
                    and current is not None and current.get("reason") == util.NEW_RS_AVAILABLE)
        if util.has_progress_deadline(d) and not complete:
            subject = (f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None
                       else f'Deployment "{d["metadata"]["name"]}"')
            if util.deployment_complete(d, status):
                util.set_condition(status, util.new_condition(
                    util.PROGRESSING, "True", util.NEW_RS_AVAILABLE,
                    f"{subject} has successfully progressed.", now))
            elif util.deployment_progressing(d, status):
                cond = util.new_condition(util.PROGRESSING, "True", util.RS_UPDATED,
                                          f"{subject} is progressing.", now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    util.remove_condition(status, util.PROGRESSING)
                util.set_condition(status, cond)
            elif util.deployment_timed_out(d, status, now):
                util.set_condition(status, util.new_condition(
                    util.PROGRESSING, "False", util.TIMED_OUT,
                    f"{subject} has timed out progressing.", now))
        failure = self.replica_failure(all_rss, new_rs)
        if failure is not None:
            util.set_condition(status, failure)
        else:
            util.remove_condition(status, util.REPLICA_FAILURE)
        if util.status_equal(d.get("status"), status):
            return self.requeue_for_deadline(d, status, now)
        d["status"] = status
        await self.update_deployment_status(d)
        return None

    @staticmethod
    def replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> Obj | None:
        """The first ReplicaFailure of the new ReplicaSet, else of any other, as ours."""
        ordered = [new_rs, *(rs for rs in all_rss if rs is not new_rs)]
        for rs in ordered:
            if rs is None:
                continue
            cond = util.get_condition(rs.get("status") or {}, util.REPLICA_FAILURE)
            if cond is not None:
                return {"type": util.REPLICA_FAILURE, "status": cond.get("status"),
                        "lastUpdateTime": cond.get("lastTransitionTime"),
                        "lastTransitionTime": cond.get("lastTransitionTime"),
                        "reason": cond.get("reason"), "message": cond.get("message")}
        return None

    @staticmethod
    def requeue_for_deadline(d: Obj, status: Obj, now: datetime) -> Requeue | None:
        """When to look again so a stall turns into ProgressDeadlineExceeded on time."""
        cond = util.get_condition(status, util.PROGRESSING)
        if not util.has_progress_deadline(d) or cond is None or not cond.get("lastUpdateTime"):
            return None
        if util.deployment_complete(d, status) or cond.get("reason") == util.TIMED_OUT:
            return None
        deadline = parse_time(cond["lastUpdateTime"]) + timedelta(
            seconds=int(d["spec"]["progressDeadlineSeconds"]))
        # Timestamps have whole seconds and the deadline must be passed, not reached.
        return Requeue(after=max((deadline - now).total_seconds(), 0.0) + 1.0)
