"""``k8py delete``: remove objects named on the line, in files, or by selection.

As kubectl: names (``TYPE NAME...``, ``TYPE/NAME``), ``-f`` manifests, ``-l``
or ``--all`` pick the objects; each delete sends DeleteOptions with the
propagation policy (background unless ``--cascade`` says otherwise) and the
grace period; then, unless ``--wait=false``, the command polls each object
until the server answers 404, since a delete with finalizers or graceful pod
termination returns long before the object is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from cli.context import Context, Target, parse_targets, parse_duration, type_name
from cli.errors import CliError, format_error, with_source
from cli.manifests import add_file_flags, read_manifests
from machinery.resources import Resource

__all__ = ["register", "run"]

_WAIT_FOREVER = 168 * 3600.0  # kubectl's stand-in for "no timeout"
_CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan",
            "true": "Background", "false": "Orphan"}


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")
    return text.lower() == "true"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("delete", help="Delete resources by file names, stdin, "
                                   "resources and names, or by resources and label selector")
    parser.add_argument("targets", nargs="*", metavar="TYPE [NAME...] | TYPE/NAME")
    add_file_flags(parser, "delete")
    parser.add_argument("-l", "--selector", help="delete the objects matching this label selector")
    parser.add_argument("--field-selector", help="delete the objects matching this field selector")
    parser.add_argument("--all", action="store_true", help="delete every object of the types given")
    parser.add_argument("--grace-period", type=int, default=-1,
                        help="seconds the object has to terminate (-1: its own default)")
    parser.add_argument("--now", action="store_true", help="terminate at once (grace period 1)")
    parser.add_argument("--force", action="store_true", help="with --grace-period=0, skip waiting "
                        "for the node to confirm termination")
    parser.add_argument("--cascade", default="background", choices=sorted(_CASCADE),
                        help="how dependents go: background, foreground or orphan")
    parser.add_argument("--wait", type=_bool, nargs="?", const=True, default=True,
                        help="wait until the objects are gone (default true)")
    parser.add_argument("--timeout", default="0",
                        help="how long to wait for the deletion (0: until it happens, as kubectl)")
    parser.add_argument("--ignore-not-found", action="store_true",
                        help="treat objects that do not exist as deleted")
    parser.add_argument("-o", "--output", choices=("name",), help="name: print resource/name only")
    parser.add_argument("--dry-run", nargs="?", const="client", default="none",
                        choices=("none", "client", "server"))
    parser.set_defaults(handler=run)


def _grace(args: argparse.Namespace) -> int | None:
    if args.now:
        return 1
    if args.force and args.grace_period < 0:
        return 0
    return args.grace_period if args.grace_period >= 0 else None


Picked = tuple[Resource, str, str | None, str]


async def _selected(ctx: Context, args: argparse.Namespace) -> list[Picked]:
    """(resource, name, namespace, source file) of every object the arguments pick, in order."""
    if args.filename:
        if args.targets:
            raise CliError("resource(s) were provided, but no name was specified")
        manifests = read_manifests(args.filename, recursive=args.recursive, stdin=ctx.stdin,
                                   namespace=ctx.namespace,
                                   explicit_namespace=ctx.explicit_namespace, verb="delete")
        return [(m.resource, m.name, m.namespace, m.source) for m in manifests]
    targets: list[Target] = parse_targets(args.targets)
    if not targets:
        raise CliError("You must provide one or more resources by argument or filename "
                       "(e.g. '-f rsrc.yaml', '<resource> <name>', '<resource>/<name>').")
    picked: list[Picked] = []
    for target in targets:
        res = target.resource
        if target.names:
            if args.selector or args.all:
                raise CliError("name cannot be provided when a selector or --all is specified")
            picked += [(res, name, ctx.namespace if res.namespaced else None, "")
                       for name in target.names]
            continue
        if not (args.selector or args.all or args.field_selector):
            raise CliError("resource(s) were provided, but no name was specified")
        items, _ = await ctx.client.list_all(
            res, ctx.list_namespace() if res.namespaced else None,
            label_selector=args.selector, field_selector=args.field_selector)
        picked += [(res, item["metadata"]["name"],
                    item["metadata"].get("namespace") if res.namespaced else None, "")
                   for item in items]
    return picked


async def _wait_gone(ctx: Context, gone: list[tuple[Resource, str, str | None, str]],
                     timeout: float) -> list[str]:
    """Poll until each object is gone (or replaced by a new one with another uid)."""
    from machinery.errors import NotFound

    deadline = time.monotonic() + timeout
    pending = list(gone)
    while pending:
        still = []
        for res, name, namespace, uid in pending:
            try:
                obj = await ctx.client.get(res, name, namespace)
            except NotFound:
                continue
            if uid and (obj.get("metadata") or {}).get("uid") != uid:
                continue
            still.append((res, name, namespace, uid))
        pending = still
        if not pending:
            break
        if time.monotonic() >= deadline:
            return [f"error: timed out waiting for the condition on {res.plural}/{name}"
                    for res, name, _, _ in pending]
        await asyncio.sleep(0.25)
    return []


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.errors import ApiError, NotFound

    if args.grace_period >= 0 and args.now:
        raise CliError("--now and --grace-period cannot be specified together")
    failures: list[str] = []
    picked = await _selected(ctx, args)
    if not picked and not args.filename:
        ctx.warn("No resources found")
        return 0
    deleted: list[tuple[Resource, str, str | None, str]] = []
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    if args.force and _grace(args) == 0:
        ctx.warn("Warning: Immediate deletion does not wait for confirmation that the running "
                 "resource has been terminated. The resource may continue to run on the cluster "
                 "indefinitely.")
    for res, name, namespace, source in picked:
        try:
            if args.dry_run == "client":
                await ctx.client.get(res, name, namespace)
                result: dict[str, Any] = {}
            else:
                result = await ctx.client.delete(
                    res, name, namespace, propagation_policy=_CASCADE[args.cascade],
                    grace_period_seconds=_grace(args), dry_run=args.dry_run == "server")
        except NotFound as exc:
            if not args.ignore_not_found:
                failures.append(format_error(with_source("deleting", source, exc)))
            continue
        except ApiError as exc:  # reported after the remaining objects are deleted
            failures.append(format_error(with_source("deleting", source, exc)))
            continue
        uid = str((result.get("metadata") or {}).get("uid") or "") if result.get("kind") != "Status" \
            else str((result.get("details") or {}).get("uid") or "")
        deleted.append((res, name, namespace, uid))
        if args.output == "name":
            ctx.print(f"{type_name(res)}/{name}")
        else:
            ctx.print(f'{type_name(res)} "{name}" deleted{suffix}')
    if args.wait and args.dry_run == "none" and deleted:
        timeout = parse_duration(args.timeout) or _WAIT_FOREVER
        failures += await _wait_gone(ctx, deleted, timeout)
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0
