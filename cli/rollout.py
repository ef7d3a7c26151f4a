"""``k8py rollout``, ``scale``, ``set image`` and ``create deployment``: the workload verbs.

They send what kubectl 1.32 sends, so the controllers see the same
requests either way: ``scale`` patches the ``scale`` subresource,
``set image`` and ``rollout restart|pause|resume`` send strategic-merge
patches, and ``rollout undo`` copies an old ReplicaSet's template (minus
its pod-template-hash label) and annotations into the Deployment with one
JSON patch.  ``rollout status`` watches the object until kubectl's
completion test passes (``rolloutstatus``).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from cli.context import Context, parse_targets, type_name
from cli.errors import CliError
from cli.rolloutstatus import watch_rollout
from machinery.resources import Resource

__all__ = ["register", "deployment_for", "container_name"]

Obj = dict[str, Any]
_TEMPLATED = ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet")
_SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")
_HISTORY = ("Deployment", "DaemonSet", "StatefulSet")  # kinds with a revision history


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    rollout = subparsers.add_parser("rollout", help="Manage the rollout of a resource")
    verbs = rollout.add_subparsers(title="subcommands", metavar="COMMAND")

    status = verbs.add_parser("status", help="Show the status of the rollout")
    status.add_argument("target", nargs="+", help="TYPE NAME or TYPE/NAME")
    status.add_argument("-w", "--watch", default="true", choices=("true", "false"),
                        help="watch the rollout until it is done")
    status.add_argument("--timeout", default="0", help="give up after this long (0: never)")
    status.set_defaults(handler=run_status)

    history = verbs.add_parser("history", help="View rollout history")
    history.add_argument("target", nargs="+")
    history.add_argument("--revision", type=int, default=0, help="show this revision's details")
    history.set_defaults(handler=run_history)

    undo = verbs.add_parser("undo", help="Undo a previous rollout")
    undo.add_argument("target", nargs="+")
    undo.add_argument("--to-revision", type=int, default=0,
                      help="the revision to roll back to (0: the previous one)")
    undo.set_defaults(handler=run_undo)

    for name, help_ in (("restart", "Restart a resource"), ("pause", "Mark a resource paused"),
                        ("resume", "Resume a paused resource")):
        sub = verbs.add_parser(name, help=help_)
        sub.add_argument("target", nargs="+")
        sub.set_defaults(handler=run_restart if name == "restart" else run_pause,
                         pause=name == "pause")

    scale = subparsers.add_parser("scale", help="Set a new size for a workload")
    scale.add_argument("target", nargs="+")
    scale.add_argument("--replicas", type=int, required=True, help="the new desired size")
    scale.add_argument("--current-replicas", type=int, default=-1,
                       help="precondition: only scale if the current size is this")
    scale.set_defaults(handler=run_scale)

    set_ = subparsers.add_parser("set", help="Set specific features on objects")
    set_verbs = set_.add_subparsers(title="subcommands", metavar="COMMAND")
    image = set_verbs.add_parser("image", help="Update the image of a pod template")
    image.add_argument("args", nargs="+", help="TYPE/NAME CONTAINER=IMAGE ...")
    image.set_defaults(handler=run_set_image)

    from cli.apply import add_write_flags
    from cli.main import subcommands

    create = subcommands(subparsers, "create")
    deploy = create.add_parser("deployment", aliases=["deploy"], help="Create a deployment")
    deploy.add_argument("name")
    deploy.add_argument("--image", action="append", default=[], required=True,
                        help="the container image, repeatable")
    deploy.add_argument("-r", "--replicas", type=int, default=1)
    deploy.add_argument("--port", type=int, default=-1, help="the container port to expose")
    deploy.add_argument("command", nargs="*", help="after --: the container command")
    add_write_flags(deploy)
    deploy.set_defaults(handler=run_create_deployment)


# -- shared -----------------------------------------------------------------------


def _objects(args_: list[str], kinds: tuple[str, ...]) -> list[tuple[Resource, str]]:
    found: list[tuple[Resource, str]] = []
    for target in parse_targets(args_):
        if not target.names:
            raise CliError("required resource not specified")
        if target.resource.kind not in kinds:
            raise CliError(f'no implementation for "{target.resource.kind}" here: '
                           f"expected one of {', '.join(kinds)}")
        found.extend((target.resource, name) for name in target.names)
    if not found:
        raise CliError("required resource not specified")
    return found


def _label(resource: Resource, name: str) -> str:
    return f"{type_name(resource)}/{name}"


def _pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]
    if obj["kind"] == "Pod":
        return spec
    template_spec: Obj = spec["template"]["spec"]
    return template_spec


# -- rollout status / history / undo ---------------------------------------------------


async def run_status(ctx: Context, args: argparse.Namespace) -> int:
    from cli.context import parse_duration

    [(resource, name)] = _objects(args.target, ("Deployment", "DaemonSet", "StatefulSet"))[:1]
    await watch_rollout(ctx, resource, name, watch=args.watch == "true",
                        timeout=parse_duration(args.timeout))
    return 0


async def _owned_replicasets(ctx: Context, d: Obj) -> list[Obj]:
    """The ReplicaSets the deployment controls, as kubectl finds them (selector, then owner)."""
    from machinery.selectors import selector_to_string

    items, _ = await ctx.client.list_all("replicasets", ctx.namespace,
                                         label_selector=selector_to_string(d["spec"]["selector"]))
    uid = d["metadata"]["uid"]
    return [rs for rs in items
            if any(r.get("controller") and r.get("uid") == uid
                   for r in rs["metadata"].get("ownerReferences") or ())]


async def run_history(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.rollout import CHANGE_CAUSE, annotations_of, revision

    from cli.revisions import revision_history, template_text

    for resource, name in _objects(args.target, _HISTORY):
        d = await ctx.client.get(resource, name, ctx.namespace)
        if resource.kind == "Deployment":
            by_revision = {revision(rs): rs for rs in await _owned_replicasets(ctx, d)}
        else:  # ControllerRevisions, shaped like ReplicaSets for the printing below
            by_revision = await revision_history(ctx, d)
        by_revision.pop(0, None)
        if args.revision:
            rs = by_revision.get(args.revision)
            if rs is None:
                raise CliError("unable to find the specified revision")
            ctx.print(f"{_label(resource, name)} with revision #{args.revision}")
            ctx.print(template_text(rs["spec"]["template"]))
            continue
        ctx.print(f"{_label(resource, name)} ")
        rows = [("REVISION", "CHANGE-CAUSE")] + [
            (str(rev), annotations_of(by_revision[rev]).get(CHANGE_CAUSE, "<none>"))
            for rev in sorted(by_revision)]
        width = max(len(r[0]) for r in rows) + 2
        for rev_text, cause in rows:
            ctx.print(f"{rev_text.ljust(width)}{cause}")
        ctx.print()
    return 0


def _rollback_source(rss: list[Obj], to_revision: int, name: str) -> Obj:
    from machinery.rollout import revision

    if to_revision > 0:
        for rs in rss:
            if revision(rs) == to_revision:
                return rs
        raise CliError(f"unable to find specified revision {to_revision} in history")
    ranked = sorted((revision(rs), rs["metadata"]["name"], rs) for rs in rss)
    if len(ranked) < 2:
        raise CliError(f'no rollout history found for deployment "{name}"')
    return ranked[-2][2]


async def run_undo(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.meta import deepcopy_json
    from machinery.rollout import NOT_COPIED, POD_TEMPLATE_HASH, annotations_of, equal_ignore_hash

    from cli.revisions import undo_revision

    if args.to_revision < 0:
        raise CliError(f"unable to find specified revision {args.to_revision} in history")
    for resource, name in _objects(args.target, _HISTORY):
        d = await ctx.client.get(resource, name, ctx.namespace)
        if resource.kind != "Deployment":
            outcome = await undo_revision(ctx, resource, d, args.to_revision)
            ctx.print(f"{_label(resource, name)} {outcome}")
            continue
        rs = _rollback_source(await _owned_replicasets(ctx, d), args.to_revision, name)
        if d["spec"].get("paused"):
            raise CliError("you cannot rollback a paused deployment; resume it first with "
                           "'k8py rollout resume' and try again")
        if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
            from machinery.rollout import revision

            ctx.print(f"{_label(resource, name)} skipped rollback (current template already "
                      f"matches revision {revision(rs)})")
            continue
        template = deepcopy_json(rs["spec"]["template"])
        ((template.get("metadata") or {}).get("labels") or {}).pop(POD_TEMPLATE_HASH, None)
        kept = {k: v for k, v in annotations_of(d).items() if k in NOT_COPIED}
        taken = {k: v for k, v in annotations_of(rs).items() if k not in NOT_COPIED}
        await ctx.client.patch(resource, name, [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": {**taken, **kept}},
        ], ctx.namespace, patch_type="json")
        ctx.print(f"{_label(resource, name)} rolled back")
    return 0


# -- restart, pause, resume ----------------------------------------------------------


async def run_restart(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.rollout import RESTARTED_AT

    stamp = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    for resource, name in _objects(args.target, ("Deployment", "DaemonSet", "StatefulSet")):
        obj = await ctx.client.get(resource, name, ctx.namespace)
        if obj["spec"].get("paused"):
            raise CliError(f"can't restart paused {resource.kind.lower()} "
                           "(run rollout resume first)")
        await ctx.client.patch(resource, name, {"spec": {"template": {"metadata": {
            "annotations": {RESTARTED_AT: stamp}}}}}, ctx.namespace, patch_type="strategic")
        ctx.print(f"{_label(resource, name)} restarted")
    return 0


async def run_pause(ctx: Context, args: argparse.Namespace) -> int:
    for resource, name in _objects(args.target, ("Deployment",)):
        obj = await ctx.client.get(resource, name, ctx.namespace)
        if bool(obj["spec"].get("paused")) == args.pause:
            state = "already paused" if args.pause else "not paused"
            raise CliError(f'{resource.qualified} "{name}" is {state}')
        await ctx.client.patch(resource, name, {"spec": {"paused": args.pause or None}},
                               ctx.namespace, patch_type="strategic")
        ctx.print(f"{_label(resource, name)} {'paused' if args.pause else 'resumed'}")
    return 0


# -- scale, set image, create deployment ---------------------------------------------


async def run_scale(ctx: Context, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than "
                       "or equal to 0")
    for resource, name in _objects(args.target, _SCALABLE):
        scale = await ctx.client.get(resource, name, ctx.namespace, subresource="scale")
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        if args.current_replicas >= 0 and current != args.current_replicas:
            raise CliError(f"Expected replicas to be {args.current_replicas}, was {current}")
        await ctx.client.patch(resource, name, {"spec": {"replicas": args.replicas}},
                               ctx.namespace, subresource="scale", patch_type="merge")
        ctx.print(f"{_label(resource, name)} scaled")
    return 0


async def run_set_image(ctx: Context, args: argparse.Namespace) -> int:
    targets = [a for a in args.args if "=" not in a]
    pairs = [a for a in args.args if "=" in a]
    if not pairs:
        raise CliError("at least one image update is required")
    images: dict[str, str] = {}
    for pair in pairs:
        container, _, image = pair.partition("=")
        if not container or not image:
            raise CliError(f"invalid image update {pair!r}: expected CONTAINER=IMAGE")
        images[container] = image
    for resource, name in _objects(targets, (*_TEMPLATED, "Pod")):
        obj = await ctx.client.get(resource, name, ctx.namespace)
        containers: list[Obj] = []
        for field in ("initContainers", "containers"):
            for c in _pod_spec(obj).get(field) or []:
                new = images.get(c["name"], images.get("*"))
                if new is not None:
                    containers.append({"field": field, "name": c["name"], "image": new})
        missing = [c for c in images if c != "*" and c not in {x["name"] for x in containers}]
        if missing:
            raise CliError(f'unable to find container named "{missing[0]}"')
        spec: Obj = {}
        for c in containers:
            spec.setdefault(c["field"], []).append({"name": c["name"], "image": c["image"]})
        patch: Obj = {"spec": spec} if obj["kind"] == "Pod" else \
            {"spec": {"template": {"spec": spec}}}
        await ctx.client.patch(resource, name, patch, ctx.namespace, patch_type="strategic")
        ctx.print(f"{_label(resource, name)} image updated")
    return 0


def container_name(image: str) -> str:
    """kubectl's container name for an image: last path part, without tag or digest."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return name.replace("_", "-").lower() or "container"


def deployment_for(name: str, images: list[str], replicas: int = 1, port: int = -1,
                   command: list[str] | None = None) -> Obj:
    """The Deployment ``kubectl create deployment`` builds (label and selector ``app=<name>``)."""
    containers: list[Obj] = []
    used: set[str] = set()
    for image in images:
        base = cname = container_name(image)
        suffix = 2
        while cname in used:
            cname, suffix = f"{base}-{suffix}", suffix + 1
        used.add(cname)
        container: Obj = {"name": cname, "image": image, "resources": {}}
        if command:
            container["command"] = list(command)
        if port >= 0:
            container["ports"] = [{"containerPort": port}]
        containers.append(container)
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "strategy": {},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers}}},
            "status": {}}


async def run_create_deployment(ctx: Context, args: argparse.Namespace) -> int:
    from cli.create import create_object

    if args.command and len(args.image) > 1:
        raise CliError("cannot specify multiple --image options and command")
    obj = deployment_for(args.name, args.image, args.replicas, args.port, args.command)
    return await create_object(ctx, args, obj)
