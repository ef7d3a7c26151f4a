"""Rollbacks (``rollback.go``).

``kubectl rollout undo`` (1.32) rolls back on the client: it copies the old
ReplicaSet's template into the deployment with a JSON patch.  The
controller then finds that old ReplicaSet is "new" again (its template
matches), gives it the next revision number and keeps its previous numbers
in ``revision-history`` -- all of which ``sync.py`` does for any template
that comes back.

What remains here is the server-side form older clients used: the
``deprecated.deployment.rollback.to`` annotation naming a revision (0 for
the previous one).  The controller copies that revision's template and
annotations into the deployment, then removes the annotation.
"""

from __future__ import annotations

from typing import Any

from controllers.deployment import util
from controllers.deployment.sync import DeploymentSync, replace_in_place
from machinery.events import NORMAL, WARNING
from machinery.meta import deepcopy_json

__all__ = ["Rollback", "rollback_target"]

Obj = dict[str, Any]

ROLLBACK_DONE = "DeploymentRollback"
ROLLBACK_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
ROLLBACK_UNCHANGED = "DeploymentRollbackTemplateUnchanged"


def rollback_target(d: Obj) -> int | None:
    """The revision the annotation asks for (0 = previous), or None when absent or bad."""
    raw = util.annotations_of(d).get(util.ROLLBACK_TO)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class Rollback(DeploymentSync):
    async def rollback(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old = await self.all_replicasets_and_sync_revision(d, rss, True)
        all_rss = [rs for rs in [*old, new_rs] if rs is not None]
        target = rollback_target(d) or 0
        if target == 0:
            target = util.last_revision(all_rss)
            if target == 0:
                self.recorder.event(d, WARNING, ROLLBACK_NOT_FOUND, "Unable to find last revision.")
                await self._clear_rollback_to(d)
                return
        for rs in all_rss:
            if util.revision(rs) == target:
                performed = self._rollback_to_template(d, rs)
                await self._clear_rollback_to(d)
                if performed:
                    self.recorder.event(d, NORMAL, ROLLBACK_DONE,
                                        f'Rolled back deployment "{d["metadata"]["name"]}" '
                                        f"to revision {target}")
                return
        self.recorder.event(d, WARNING, ROLLBACK_NOT_FOUND,
                            "Unable to find the revision to rollback to.")
        await self._clear_rollback_to(d)

    def _rollback_to_template(self, d: Obj, rs: Obj) -> bool:
        if util.equal_ignore_hash(d["spec"].get("template"), rs["spec"].get("template")):
            self.recorder.event(d, WARNING, ROLLBACK_UNCHANGED,
                                "The rollback revision contains the same template as current "
                                f'deployment "{d["metadata"]["name"]}"')
            return False
        template = deepcopy_json(rs["spec"]["template"])
        labels = (template.get("metadata") or {}).get("labels") or {}
        labels.pop(util.POD_TEMPLATE_HASH, None)
        d["spec"]["template"] = template
        kept = {k: v for k, v in util.annotations_of(d).items() if k in util.NOT_COPIED}
        taken = {k: v for k, v in util.annotations_of(rs).items() if k not in util.NOT_COPIED}
        d["metadata"]["annotations"] = {**taken, **kept}
        return True

    async def _clear_rollback_to(self, d: Obj) -> None:
        (d["metadata"].get("annotations") or {}).pop(util.ROLLBACK_TO, None)
        replace_in_place(d, await self.client.update("deployments", d))
