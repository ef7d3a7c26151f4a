"""``k8py completion bash|zsh``: shell completion, driven by the CLI's own parser.

The printed script is small: on every <TAB> it calls the hidden
``k8py __complete WORD...`` and offers what that prints, one candidate a
line (the way cobra-generated kubectl completion works).  ``__complete``
walks the same argparse tree the command runs with, so verbs, subcommands
and flags never drift from the real ones; for resource arguments it offers
type names, then object names from the server (a short timeout, silence on
any failure: completion must never print errors into a prompt).
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context

__all__ = ["register", "candidates", "BASH", "ZSH"]

BASH = """# bash completion for k8py; load with: source <(k8py completion bash)
_k8py_complete() {
    local IFS=$'\\n'
    COMPREPLY=( $(k8py __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )
}
complete -o default -F _k8py_complete k8py
"""

ZSH = """#compdef k8py
# zsh completion for k8py; load with: source <(k8py completion zsh)
_k8py_complete() {
    local -a candidates
    candidates=("${(@f)$(k8py __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    compadd -- "${candidates[@]}"
}
if (( $+functions[compdef] )); then
    compdef _k8py_complete k8py
else
    autoload -Uz compinit && compinit && compdef _k8py_complete k8py
fi
"""

# Verbs whose positionals are TYPE [NAME...]; names complete from the server.
_RESOURCE_VERBS = frozenset({"get", "describe", "delete", "label", "annotate"})
_CONNECTION_FLAGS = frozenset({"kubeconfig", "context", "namespace", "server"})
_OUTPUTS = ("json", "yaml", "wide", "name", "jsonpath=", "custom-columns=")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("completion", help="Output shell completion code for bash or zsh")
    parser.add_argument("shell", choices=("bash", "zsh"))
    parser.set_defaults(handler=run)
    hidden = subparsers.add_parser("__complete")
    hidden.add_argument("words", nargs=argparse.REMAINDER)
    hidden.set_defaults(handler=run_complete)


def run(ctx: Context, args: argparse.Namespace) -> int:
    ctx.stdout.write(BASH if args.shell == "bash" else ZSH)
    return 0


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _takes_value(parser: argparse.ArgumentParser, flag: str) -> bool:
    action = parser._option_string_actions.get(flag.split("=", 1)[0])
    return action is not None and action.nargs != 0 and "=" not in flag


async def _names(ctx: Context, type_word: str) -> list[str]:
    from cli.context import expand_types

    try:
        names: list[str] = []
        for res in expand_types(type_word):
            items, _ = await ctx.client.list_all(res, ctx.namespace if res.namespaced else None)
            names += [item["metadata"]["name"] for item in items]
        return names
    except Exception:  # completion stays silent whatever goes wrong
        return []


async def candidates(ctx: Context, words: list[str]) -> list[str]:
    """What may follow ``words[:-1]``, starting with the partial word ``words[-1]``."""
    from cli.main import build_parser
    from machinery.resources import RESOURCES

    done, current = words[:-1], words[-1] if words else ""
    parser: argparse.ArgumentParser = build_parser()
    path: list[str] = []
    positionals: list[str] = []
    expect_value: str | None = None
    for word in done:
        if expect_value is not None:
            action = parser._option_string_actions.get(expect_value)
            if action is not None and action.dest in _CONNECTION_FLAGS:
                setattr(ctx.args, action.dest, word)
            expect_value = None
            continue
        if word.startswith("-"):
            if _takes_value(parser, word):
                expect_value = word
            continue
        sub = _subparsers(parser)
        if sub is not None and word in sub.choices and not positionals:
            parser = sub.choices[word]
            path.append(word)
            continue
        positionals.append(word)
    if expect_value in ("-n", "--namespace"):
        options = await _names(ctx, "namespaces")
    elif expect_value in ("-o", "--output"):
        options = list(_OUTPUTS)
    elif expect_value is not None:
        options = []
    elif current.startswith("-"):
        options = sorted(flag for flag in parser._option_string_actions if flag.startswith("--"))
    elif (sub := _subparsers(parser)) is not None and not positionals:
        options = [name for name in sub.choices if not name.startswith("__")]
    elif path[:1] and path[0] in _RESOURCE_VERBS and not positionals:
        options = sorted({r.plural for r in RESOURCES} | {s for r in RESOURCES for s in r.short_names}
                         | ({"all"} if path[0] == "get" else set()))
    elif path[:1] and path[0] in _RESOURCE_VERBS and "/" not in positionals[0]:
        options = await _names(ctx, positionals[0])
    else:
        options = []
    return [option for option in options if option.startswith(current)]


async def run_complete(ctx: Context, args: argparse.Namespace) -> int:
    ctx.args.request_timeout = getattr(ctx.args, "request_timeout", None) or "2s"
    for option in await candidates(ctx, list(args.words) or [""]):
        ctx.print(option)
    return 0
