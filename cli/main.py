"""Entry point of the ``k8py`` command: global flags, verb registration, error reporting.

Each verb group lives in its own module exposing ``register(subparsers)``; it
adds its parsers and sets ``handler`` to a function ``(ctx, args) -> int``
(plain or ``async``).  Adding a verb module is one entry in ``VERB_MODULES``.
Parsers created through ``subparsers.add_parser`` accept the global flags
anywhere on the line, as kubectl's do, and take options between positionals
(``get pods -n x web``).  A verb module that adds a subcommand to another
group's verb (``create deployment``) finds that group with ``subcommands``.

Verb modules must keep heavy imports (httpx, yaml, rich) inside functions:
every invocation imports all of them to build the parser, and
``k8py version --client`` should stay well under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import re
import sys
from typing import Any, NoReturn

from cli.context import Context
from cli.errors import CliError, format_error

__all__ = ["main", "build_parser", "run", "invoke", "subcommands", "VerbParser", "VERB_MODULES"]

# Order matters where a module extends another's verb group (rollout adds
# ``create deployment``, so it follows create).  A module not present in this
# installation is skipped; an import error inside a present module is not.
VERB_MODULES = (
    "get", "describe", "create", "apply", "delete", "label", "api_resources",
    "version", "config", "completion", "rollout", "jobs", "cluster", "logs", "exec", "portforward",
    "top", "expose", "edit",
)


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The flags every command accepts; sub-parsers suppress defaults so they never
    overwrite a value given before the verb."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument("--kubeconfig", default=default(None),
                       help="path to the kubeconfig file to use")
    group.add_argument("--context", default=default(None), help="the kubeconfig context to use")
    group.add_argument("-n", "--namespace", default=default(None),
                       help="the namespace scope for this request")
    group.add_argument("-A", "--all-namespaces", action="store_true", default=default(False),
                       help="across all namespaces")
    group.add_argument("-s", "--server", default=default(None),
                       help="the address and port of the API server")
    group.add_argument("--request-timeout", default=default("0"),
                       help="how long to wait for a single request (e.g. 1s, 2m; 0 = default)")


class VerbParser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors the kubectl way and mixes options and
    positionals freely."""

    def __init__(self, *args: Any, global_flags: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._intermixing = False
        if global_flags:
            _global_flags(self, suppress=True)

    def error(self, message: str) -> NoReturn:
        choice = re.match(r"argument [A-Z]+: invalid choice: '([^']*)'", message)
        if choice:
            raise CliError(f'unknown command "{choice.group(1)}" for "{self.prog}"')
        if message.startswith("unrecognized arguments: -"):
            raise CliError(f"unknown flag: {message.split(': ', 1)[1].split()[0]}")
        raise CliError(message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._subparsers is not None or self._intermixing or any(
                a.nargs == argparse.REMAINDER for a in self._get_positional_actions()):
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def subcommands(subparsers: argparse._SubParsersAction[Any],
                verb: str) -> argparse._SubParsersAction[Any]:
    """The subcommand registry of an already registered verb (``create``, ``config``)."""
    parser = subparsers.choices.get(verb)
    if parser is None or parser._subparsers is None:
        raise KeyError(f"verb {verb!r} has no subcommands")
    for action in parser._subparsers._group_actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise KeyError(f"verb {verb!r} has no subcommands")


def _show_help(parser: argparse.ArgumentParser) -> Any:
    def handler(ctx: Context, args: argparse.Namespace) -> int:
        parser.print_help(ctx.stdout)
        return 0
    return handler


def build_parser() -> VerbParser:
    parser = VerbParser(prog="k8py", global_flags=False,
                        description="k8py controls a Kubernetes-compatible cluster.")
    _global_flags(parser, suppress=False)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    parser.set_defaults(handler=_show_help(parser))
    for name in VERB_MODULES:
        try:
            module = importlib.import_module(f"cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cli.{name}":
                continue
            raise
        module.register(subparsers)
    # A verb group given without its subcommand prints its own help.
    for sub in set(subparsers.choices.values()):
        if sub._subparsers is not None and sub.get_default("handler") is None:
            sub.set_defaults(handler=_show_help(sub))
    return parser


async def invoke(ctx: Context, handler: Any) -> int:
    """Call a verb handler and turn every failure into one kubectl-style message."""
    try:
        result = handler(ctx, ctx.args)
        if inspect.isawaitable(result):
            result = await result
        return int(result or 0)
    except BrokenPipeError:
        raise
    except Exception as exc:  # every failure ends as one message, never a traceback
        print(format_error(exc), file=ctx.stderr)
        return 1
    finally:
        await ctx.aclose()


def run(ctx: Context, handler: Any) -> int:
    try:
        return asyncio.run(invoke(ctx, handler))
    except KeyboardInterrupt:
        return ctx.interrupt_code
    except BrokenPipeError:
        # The reader went away (``| head``); say nothing more on a dead pipe.
        sys.stdout = None
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except CliError as exc:
        print(format_error(exc), file=sys.stderr)
        return 1
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return run(Context(args), args.handler)


if __name__ == "__main__":
    sys.exit(main())
