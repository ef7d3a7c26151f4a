"""``k8py label`` and ``k8py annotate``: set (``key=value``) or remove (``key-``) metadata entries.

One implementation serves both verbs, as their kubectl rules differ only in
wording: changing an existing key's value needs ``--overwrite``; removing a
missing key prints a note and goes on; objects are picked by name,
``TYPE/NAME``, ``-l`` or ``--all``; each change is a JSON merge patch of
``metadata.labels`` (or ``annotations``) with kubectl's field manager.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from cli.context import Context, parse_targets, type_name
from cli.errors import CliError, format_error

__all__ = ["register", "parse_changes", "apply_changes", "Verb"]


@dataclass(frozen=True)
class Verb:
    name: str            # label | annotate
    field: str           # labels | annotations
    noun: str            # label | annotation
    done: str            # labeled | annotated


LABEL = Verb("label", "labels", "label", "labeled")
ANNOTATE = Verb("annotate", "annotations", "annotation", "annotated")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    for verb, summary in ((LABEL, "Update the labels on a resource"),
                          (ANNOTATE, "Update the annotations on a resource")):
        parser = subparsers.add_parser(verb.name, help=summary)
        parser.add_argument("args", nargs="*",
                            metavar="TYPE NAME | TYPE/NAME KEY_1=VAL_1 ... KEY_N-")
        parser.add_argument("--overwrite", action="store_true",
                            help=f"allow replacing the value of an existing {verb.noun}")
        parser.add_argument("-l", "--selector", help="act on the objects matching this label selector")
        parser.add_argument("--all", action="store_true", help="act on every object of the type")
        parser.add_argument("--dry-run", nargs="?", const="client", default="none",
                            choices=("none", "client", "server"))
        parser.add_argument("-o", "--output", help="name|json|yaml")
        parser.set_defaults(handler=run, verb=verb)


def parse_changes(args: list[str], verb: Verb) -> tuple[list[str], dict[str, str], list[str]]:
    """Split the arguments into resource arguments, keys to set and keys to remove."""
    resources: list[str] = []
    updates: dict[str, str] = {}
    removals: list[str] = []
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            if not key:
                raise CliError(f"invalid {verb.noun} spec: {arg}")
            updates[key] = value
        elif arg.endswith("-") and (updates or removals or resources):
            removals.append(arg[:-1])
        else:
            if updates or removals:
                raise CliError(f"all resources must be specified before {verb.noun} changes: {arg}")
            resources.append(arg)
    if not updates and not removals:
        raise CliError(f"at least one {verb.noun} update is required")
    for key in removals:
        if key in updates:
            raise CliError(f"can not both modify and remove the following {verb.noun}(s) "
                           f"in the same command: {key}")
    return resources, updates, removals


def apply_changes(current: dict[str, str], updates: dict[str, str], removals: list[str],
                  *, overwrite: bool, verb: Verb) -> dict[str, str]:
    """The new map, refusing to change an existing value unless ``overwrite``."""
    if not overwrite:
        clashes = [(k, current[k]) for k in sorted(updates) if k in current and current[k] != updates[k]]
        if clashes and verb is LABEL:
            raise CliError(f"'{clashes[0][0]}' already has a value ({clashes[0][1]}), "
                           "and --overwrite is false")
        if clashes:
            found = "; ".join(f"'{k}' already has a value ({v})" for k, v in clashes)
            raise CliError(f"--overwrite is false but found the following declared "
                           f"annotation(s): {found}")
    result = {k: v for k, v in current.items() if k not in removals}
    result.update(updates)
    return result


def _message(verb: Verb, before: dict[str, str], after: dict[str, str], overwrite: bool) -> str:
    if verb is ANNOTATE:
        return verb.done
    if before == after:
        return "not labeled"
    import orjson

    shorter = len(orjson.dumps(after)) < len(orjson.dumps(before))
    return "unlabeled" if shorter and not overwrite else "labeled"


async def _pick(ctx: Context, args: argparse.Namespace,
                resources: list[str]) -> list[tuple[Any, str, str | None]]:
    targets = parse_targets(resources)
    if not targets:
        raise CliError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    picked = []
    for target in targets:
        res = target.resource
        namespace = ctx.namespace if res.namespaced else None
        if target.names:
            picked += [(res, name, namespace) for name in target.names]
            continue
        if not (args.selector or args.all):
            raise CliError("resource(s) were provided, but no name was specified")
        items, _ = await ctx.client.list_all(res, ctx.list_namespace() if res.namespaced else None,
                                             label_selector=args.selector)
        picked += [(res, o["metadata"]["name"], o["metadata"].get("namespace")) for o in items]
    return picked


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from cli.printers import parse_output, render_objects
    from machinery.errors import ApiError

    verb: Verb = args.verb
    output = parse_output(args.output)
    resources, updates, removals = parse_changes(args.args, verb)
    failures: list[str] = []
    for res, name, namespace in await _pick(ctx, args, resources):
        try:
            obj = await ctx.client.get(res, name, namespace)
            current = dict((obj.get("metadata") or {}).get(verb.field) or {})
            for key in removals:
                if key not in current:
                    ctx.print(f'{verb.noun} "{key}" not found.')
            new = apply_changes(current, updates, removals, overwrite=args.overwrite, verb=verb)
            message = _message(verb, current, new, args.overwrite)
            if new != current and args.dry_run != "client":
                patch = {"metadata": {verb.field: {**{k: None for k in current if k not in new},
                                                   **{k: v for k, v in new.items()
                                                      if current.get(k) != v}}}}
                obj = await ctx.client.patch(res, name, patch, namespace, patch_type="merge",
                                             field_manager=f"kubectl-{verb.name}",
                                             dry_run=args.dry_run == "server")
        except (ApiError, CliError) as exc:
            failures.append(format_error(exc))
            continue
        if output.kind and output.kind != "name":
            obj.setdefault("apiVersion", res.api_version)
            obj.setdefault("kind", res.kind)
            ctx.stdout.write(render_objects([(res, obj)], output, single=True))
        elif output.kind == "name":
            ctx.print(f"{type_name(res)}/{name}")
        else:
            ctx.print(f"{type_name(res)}/{name} {message}")
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0
