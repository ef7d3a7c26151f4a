"""``k8py config``: read and switch kubeconfig contexts, on the same files kubectl uses.

All reading and writing goes through ``machinery.kubeconfig`` (kubectl's
loading and merging rules, secrets redacted in ``view`` unless ``--raw``,
atomic writes); this module only maps the subcommands and prints what
kubectl prints.  None of these commands contacts the server.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context
from cli.errors import CliError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("config", help="Modify kubeconfig files")
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    view = commands.add_parser("view", help="Display merged kubeconfig settings or a specified kubeconfig file")
    view.add_argument("--minify", action="store_true", help="only the current context's entries")
    view.add_argument("--raw", action="store_true", help="show certificates and tokens")
    view.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    view.set_defaults(handler=run_view)

    use = commands.add_parser("use-context", aliases=["use"], help="Set the current-context in a kubeconfig file")
    use.add_argument("name")
    use.set_defaults(handler=run_use_context)

    current = commands.add_parser("current-context", help="Display the current-context")
    current.set_defaults(handler=run_current_context)

    contexts = commands.add_parser("get-contexts", help="Describe one or many contexts")
    contexts.add_argument("names", nargs="*")
    contexts.add_argument("-o", "--output", choices=("name",), default=None)
    contexts.add_argument("--no-headers", action="store_true")
    contexts.set_defaults(handler=run_get_contexts)


def run_view(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.kubeconfig import render

    text = render(ctx.kubeconfig(), minify=args.minify, raw=args.raw,
                  context=getattr(args, "context", None))
    if args.output == "json":
        import yaml

        from cli.printers import dump_json

        text = dump_json(yaml.safe_load(text), indent=4, sort_keys=False)
    ctx.stdout.write(text)
    return 0


def run_use_context(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.kubeconfig import use_context

    config = ctx.kubeconfig()
    if args.name not in config.contexts:
        raise CliError(f'no context exists with the name: "{args.name}"')
    path = getattr(ctx.args, "kubeconfig", None) or config.paths[0]
    use_context(path, args.name)
    ctx.print(f'Switched to context "{args.name}".')
    return 0


def run_current_context(ctx: Context, args: argparse.Namespace) -> int:
    current = ctx.kubeconfig().current_context
    if not current:
        raise CliError("current-context is not set")
    ctx.print(current)
    return 0


def run_get_contexts(ctx: Context, args: argparse.Namespace) -> int:
    from cli.printers import TableWriter

    config = ctx.kubeconfig()
    names = args.names or sorted(config.contexts)
    missing = [n for n in names if n not in config.contexts]
    found = [n for n in names if n in config.contexts]
    if args.output == "name":
        for name in found:
            ctx.print(name)
    else:
        rows = []
        for name in found:
            entry = config.contexts[name]
            rows.append(["*" if name == config.current_context else "", name,
                         str(entry.get("cluster", "")), str(entry.get("user", "")),
                         str(entry.get("namespace", ""))])
        headers = None if args.no_headers else ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
        TableWriter(ctx.stdout, colour=False).write(headers, rows)
    for name in missing:
        ctx.warn(f"error: context {name} not found")
    return 1 if missing else 0
