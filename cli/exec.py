"""``k8py exec``: run a command in a container through the API server, as ``kubectl exec``.

The session is a WebSocket on ``pods/<name>/exec`` speaking
``v5.channel.k8s.io`` (``machinery.streams.exec_client``); the API server
relays it to the pod's kubelet. The remote exit code becomes this command's
exit code, with kubectl's "command terminated with exit code N" on stderr.
A TTY needs ``-i`` and a terminal on stdin, as in kubectl's ``SetupTTY``.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any
from urllib.parse import urlencode

from cli.context import Context
from cli.errors import CliError
from cli.streaming import connection, default_container, pod_path, select_pod

__all__ = ["register", "exec_query"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("exec", help="Execute a command in a container")
    parser.add_argument("target", metavar="POD|TYPE/NAME")
    parser.add_argument("command", nargs="*", metavar="-- COMMAND [args...]")
    parser.add_argument("-c", "--container", help="container name (default: the pod's default)")
    parser.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    parser.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only print output from the remote session")
    parser.set_defaults(handler=run)


def exec_query(command: list[str], container: str, *, stdin: bool, tty: bool) -> str:
    """The exec query in kubectl's order; stderr is not asked for under a TTY."""
    pairs = [("command", part) for part in command] + [("container", container)]
    if stdin:
        pairs.append(("stdin", "true"))
    if not tty:
        pairs.append(("stderr", "true"))
    pairs.append(("stdout", "true"))
    if tty:
        pairs.append(("tty", "true"))
    return urlencode(pairs)


def _binary(stream: IO[str], fallback: IO[bytes]) -> IO[bytes]:
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else fallback


def _is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.streams import exec_client

    command = [part for part in args.command]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CliError("you must specify at least one command for the container")
    warn = None if args.quiet else ctx.warn
    selection = await select_pod(ctx, args.target, announce=warn)
    pod = selection.pod
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    container = args.container or default_container(pod, warn)
    stdin_stream = _binary(ctx.stdin, sys.stdin.buffer)
    tty = bool(args.tty and args.stdin)
    if tty and not _is_terminal(stdin_stream):
        tty = False
        if warn is not None:
            warn("Unable to use a TTY - input is not a terminal or the right kind of file")
    conn = connection(ctx)
    meta = pod["metadata"]
    url = conn.url(pod_path(meta.get("namespace") or ctx.namespace, meta["name"], "exec"))
    code = await exec_client(
        f"{url}?{exec_query(command, container, stdin=args.stdin, tty=tty)}", conn.headers,
        stdin=args.stdin, tty=tty, stdin_stream=stdin_stream,
        stdout_stream=_binary(ctx.stdout, sys.stdout.buffer),
        stderr_stream=_binary(ctx.stderr, sys.stderr.buffer), ssl=conn.ssl)
    if code != 0 and warn is not None:
        warn(f"command terminated with exit code {code}")
    return code
