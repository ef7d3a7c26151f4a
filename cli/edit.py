"""``k8py edit``: change a live object in the user's editor, the way ``kubectl edit`` does.

The object is fetched and written as YAML (or JSON with ``-o json``) under
kubectl's header comment to a temporary file, and ``$KUBE_EDITOR``,
``$EDITOR`` or ``vi`` opens it.  Comment lines are dropped from what comes
back; an empty file or one equal to the object cancels the edit.  Otherwise
the difference is sent as a two-way patch (strategic for built-in kinds, a
JSON merge patch for kinds without a schema) carrying the object's
``resourceVersion``, so a concurrent change is a conflict rather than lost.
A refused change reopens the file with the server's error as a comment at
the top; if the editor then hands back the same content, the edit fails with
that error.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from cli.context import Context, parse_targets
from cli.errors import CliError

__all__ = ["register", "run", "HEADER", "strip_comments", "two_way_patch", "error_comment"]

HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
          "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
          "# reopened with the relevant failures.\n"
          "#\n")
MAX_ROUNDS = 5


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("edit", help="Edit a resource on the server")
    parser.add_argument("resource", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    parser.add_argument("-o", "--output", default=None,
                        help="yaml|json: the format to edit in and to print the result in")
    parser.add_argument("--field-manager", default="kubectl-edit",
                        help="name of the manager recorded for the changed fields")
    parser.set_defaults(handler=run)


def strip_comments(text: str) -> str:
    """The file without the lines kubectl ignores (those starting with ``#``)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.lstrip().startswith("#"))


def two_way_patch(original: dict[str, Any], edited: dict[str, Any],
                  api_version: str, kind: str) -> tuple[dict[str, Any], str]:
    """The patch taking ``original`` to ``edited`` and its patch type (strategic or merge)."""
    from cli.threeway import shape_for, three_way_patch

    shape = shape_for(api_version, kind)
    patch = three_way_patch(original, edited, original, shape)
    return patch, "strategic" if shape is not None else "merge"


def error_comment(exc: BaseException, qualified: str, name: str) -> str:
    """The failure as the comment block kubectl puts at the top of a reopened file."""
    from cli.errors import format_error
    from machinery.errors import ApiError

    if isinstance(exc, ApiError) and exc.reason == "Invalid" and exc.causes:
        lines = [f'{qualified} "{name}" was not valid:']
        lines += [f"* {c.get('field', '')}: {c.get('message', '')}" for c in exc.causes]
    else:
        lines = format_error(exc).splitlines()
    return "".join(f"# {line}\n" for line in lines) + "#\n"


def _render(obj: dict[str, Any], fmt: str) -> str:
    from cli.printers import dump_json, dump_yaml

    return dump_json(obj) if fmt == "json" else dump_yaml(obj)


def _parse(text: str, fmt: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"error parsing edited {fmt}: {str(exc).splitlines()[0]}") from None


def _open_editor(path: str) -> None:
    import shlex
    import subprocess

    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    argv = [*shlex.split(editor), path]
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise CliError(f'unable to launch the editor "{editor}"') from None
    if code != 0:
        raise CliError(f'there was a problem with the editor "{editor}"')


def _edit(text: str, fmt: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="k8py-edit-", suffix=f".{fmt}")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        _open_editor(path)
        with open(path) as fh:
            return fh.read()
    finally:
        os.unlink(path)


async def _edit_one(ctx: Context, args: argparse.Namespace, resource: Any, name: str,
                    fmt: str) -> bool:
    """Edit one object; False when nothing was sent."""
    from cli.printers import object_name, parse_output, render_objects

    original = await ctx.client.get(resource, name, ctx.namespace)
    original.setdefault("apiVersion", resource.api_version)
    original.setdefault("kind", resource.kind)
    # As kubectl without --show-managed-fields: the file leaves managedFields out.
    original.get("metadata", {}).pop("managedFields", None)
    body = _render(original, fmt)
    previous: str | None = None
    error: BaseException | None = None
    problem = ""
    for _ in range(MAX_ROUNDS):
        edited_text = strip_comments(_edit(HEADER + problem + body, fmt))
        if not edited_text.strip():
            ctx.warn("Edit cancelled, saved file was empty.")
            return False
        if error is not None and edited_text == previous:
            raise error
        edited = _parse(edited_text, fmt)
        if edited == original:
            ctx.warn("Edit cancelled, no changes made.")
            return False
        if not isinstance(edited, dict):
            raise CliError("the edited file does not hold an object")
        for key in ("apiVersion", "kind"):
            if edited.get(key) != original.get(key):
                raise CliError("At least one of apiVersion, kind and name was changed")
        if (edited.get("metadata") or {}).get("name") != original["metadata"]["name"]:
            raise CliError("At least one of apiVersion, kind and name was changed")
        patch, patch_type = two_way_patch(original, edited, str(original["apiVersion"]),
                                          str(original["kind"]))
        if not patch:
            ctx.warn("Edit cancelled, no changes made.")
            return False
        patch.setdefault("metadata", {})["resourceVersion"] = \
            original["metadata"].get("resourceVersion")
        try:
            result = await ctx.client.patch(resource, name, patch, ctx.namespace,
                                            patch_type=patch_type,
                                            field_manager=args.field_manager)
        except Exception as exc:  # reopened with the error, as kubectl does
            from machinery.errors import ApiError

            if not isinstance(exc, ApiError):
                raise
            error = exc
            previous, body = edited_text, edited_text
            problem = error_comment(exc, resource.qualified, name)
            continue
        output = parse_output(args.output)
        if output.kind:
            result.setdefault("apiVersion", resource.api_version)
            result.setdefault("kind", resource.kind)
            ctx.stdout.write(render_objects([(resource, result)], output, single=True))
        else:
            ctx.print(f"{object_name(resource, original)} edited")
        return True
    raise CliError(f"the edit of {resource.qualified} \"{name}\" failed {MAX_ROUNDS} times")


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from cli.printers import parse_output

    fmt = parse_output(args.output).kind or "yaml"
    if fmt not in ("yaml", "json"):
        raise CliError(f'the edit mode "{fmt}" is not supported; use yaml or json')
    targets = parse_targets(args.resource)
    if not targets or not any(t.names for t in targets):
        raise CliError("You must provide the type and name of the resource to edit")
    for target in targets:
        for name in target.names:
            await _edit_one(ctx, args, target.resource, name, fmt)
    return 0
