"""Rollout history and undo of StatefulSets and DaemonSets, from their ControllerRevisions.

kubectl's history viewers and rollbackers for these kinds
(``polymorphichelpers/history.go``, ``rollback.go``) read the revisions the
object controls (selector match plus controller reference): ``history``
lists their numbers and change causes or shows one revision's pod
template (``template_text``, which Deployments' history shares), and ``undo`` sends a revision's own data -- a strategic-merge
patch that replaces ``spec.template`` -- back to the object.
"""

from __future__ import annotations

from typing import Any

from cli.context import Context
from cli.describe import Writer
from cli.describe_pod import pod_template
from cli.errors import CliError
from controllers.history import template_of
from machinery.resources import Resource
from machinery.rollout import equal_ignore_hash
from machinery.selectors import selector_to_string

__all__ = ["revision_history", "undo_revision", "template_text"]

Obj = dict[str, Any]


class _PlainWriter(Writer):
    """A PrefixWriter without the tabwriter: how kubectl prints one revision's template."""

    def flush(self) -> None:
        if self._pending:
            self._done.append("".join(self._pending))
            self._pending = []


def template_text(template: Obj) -> str:
    """``rollout history --revision``'s pod template (``DescribePodTemplate``, tabs as is)."""
    w = _PlainWriter()
    pod_template(w, template)
    return w.text()


async def _owned_revisions(ctx: Context, obj: Obj) -> list[Obj]:
    items, _ = await ctx.client.list_all(
        "controllerrevisions", ctx.namespace,
        label_selector=selector_to_string(obj["spec"].get("selector") or {}))
    uid = obj["metadata"]["uid"]
    return [r for r in items
            if any(ref.get("controller") and ref.get("uid") == uid
                   for ref in r["metadata"].get("ownerReferences") or ())]


async def revision_history(ctx: Context, obj: Obj) -> dict[int, Obj]:
    """Revision number -> ``{"metadata": {annotations}, "spec": {"template": ...}}``.

    The shape of a ReplicaSet, so one printer serves every kind's history.
    """
    return {int(r.get("revision") or 0): {
        "metadata": {"annotations": dict(r["metadata"].get("annotations") or {})},
        "spec": {"template": template_of(r)}} for r in await _owned_revisions(ctx, obj)}


async def undo_revision(ctx: Context, resource: Resource, obj: Obj, to_revision: int) -> str:
    """Patch the object back to a revision; what happened, in kubectl's words."""
    revisions = sorted(await _owned_revisions(ctx, obj), key=lambda r: int(r.get("revision") or 0))
    if to_revision > 0:
        chosen = [r for r in revisions if int(r.get("revision") or 0) == to_revision]
        if not chosen:
            raise CliError(f"unable to find specified revision {to_revision} in history")
        target = chosen[0]
    elif len(revisions) < 2:
        raise CliError("no last revision to roll back to")
    else:
        target = revisions[-2]
    if equal_ignore_hash(template_of(target), obj["spec"].get("template")):
        return (f"skipped rollback (current template already matches revision "
                f"{target.get('revision')})")
    await ctx.client.patch(resource, obj["metadata"]["name"], target.get("data") or {},
                           ctx.namespace, patch_type="strategic")
    return "rolled back"
