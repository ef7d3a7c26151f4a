"""``k8py logs``: a container's log through the API server, as ``kubectl logs``.

``GET pods/<name>/log`` is answered by the pod's kubelet (through the API
server) as plain text; with ``-f`` the chunked response stays open until the
container ends or the user interrupts, so it is copied as it arrives. With
several streams (``--all-containers``, ``-l``) they run one after the other,
or side by side under ``-f``, each line whole, optionally ``--prefix``-ed
with ``[pod/<pod>/<container>]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from typing import IO, Any

from cli.context import Context, parse_duration
from cli.errors import CliError
from cli.streaming import (
    Connection, connection, container_names, default_container, pod_path, select_pod,
)

__all__ = ["register", "log_params"]

Obj = dict[str, Any]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("logs", help="Print the logs for a container in a pod")
    parser.add_argument("target", nargs="?", metavar="POD|TYPE/NAME")
    parser.add_argument("container_arg", nargs="?", metavar="CONTAINER")
    parser.add_argument("-c", "--container", help="print the logs of this container")
    parser.add_argument("-f", "--follow", action="store_true", help="stream the logs")
    parser.add_argument("--tail", type=int, default=None,
                        help="lines of recent log to show (default all; 10 with a selector)")
    parser.add_argument("--since", help="only logs newer than a relative duration like 5s, 2m, 3h")
    parser.add_argument("--since-time", help="only logs after an RFC3339 date")
    parser.add_argument("--timestamps", action="store_true",
                        help="include a timestamp on each line")
    parser.add_argument("-p", "--previous", action="store_true",
                        help="the logs of the previous, terminated instance of the container")
    parser.add_argument("--all-containers", action="store_true",
                        help="the logs of every container of the pod(s)")
    parser.add_argument("--limit-bytes", type=int, default=None,
                        help="maximum bytes of logs to return")
    parser.add_argument("-l", "--selector", help="label selector of the pods to show")
    parser.add_argument("--prefix", action="store_true",
                        help="prefix each line with [pod/<pod>/<container>]")
    parser.add_argument("--max-log-requests", type=int, default=5,
                        help="maximum concurrent streams with a selector and -f")
    parser.set_defaults(handler=run)


def log_params(args: argparse.Namespace, container: str) -> dict[str, str]:
    """The ``PodLogOptions`` query for one container, as kubectl sends it."""
    params = {"container": container}
    if args.follow:
        params["follow"] = "true"
    tail = args.tail if args.tail is not None else (10 if args.selector else -1)
    if tail >= 0:
        params["tailLines"] = str(tail)
    if args.since and args.since_time:
        raise CliError("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if args.since:
        params["sinceSeconds"] = str(max(1, math.ceil(parse_duration(args.since))))
    if args.since_time:
        params["sinceTime"] = args.since_time
    if args.timestamps:
        params["timestamps"] = "true"
    if args.previous:
        params["previous"] = "true"
    if args.limit_bytes is not None:
        params["limitBytes"] = str(args.limit_bytes)
    return params


async def _pods(ctx: Context, args: argparse.Namespace) -> list[Obj]:
    if args.selector:
        if args.target:
            raise CliError("only a selector (-l) or a POD name is allowed")
        listed = await ctx.client.list("pods", ctx.namespace, label_selector=args.selector)
        pods = list(listed.get("items") or [])
        if not pods:
            ctx.warn(f"No resources found in {ctx.namespace} namespace.")
        return pods
    if not args.target:
        raise CliError("expected POD or TYPE/NAME: k8py logs POD [-c CONTAINER]")
    return [(await select_pod(ctx, args.target, for_logs=True, announce=ctx.warn)).pod]


def _containers(ctx: Context, args: argparse.Namespace, pod: Obj) -> list[str]:
    if args.all_containers:
        return container_names(pod)
    chosen = args.container or args.container_arg
    return [chosen] if chosen else [default_container(pod, ctx.warn)]


class _Output:
    """Whole lines onto stdout, shared by concurrent streams; bytes where the stream takes them."""

    def __init__(self, stream: IO[str]) -> None:
        self.text = stream
        self.binary: IO[bytes] | None = getattr(stream, "buffer", None)

    def write(self, data: bytes) -> None:
        if self.binary is not None:
            self.text.flush()
            self.binary.write(data)
            self.binary.flush()
        else:
            self.text.write(data.decode("utf-8", "replace"))
            self.text.flush()


async def _stream(conn: Connection, ctx: Context, pod: Obj, params: dict[str, str],
                  out: _Output, *, prefix: bytes, whole_lines: bool) -> None:
    import httpx

    from machinery import errors

    meta = pod["metadata"]
    url = conn.url(pod_path(meta.get("namespace") or ctx.namespace, meta["name"], "log"))
    async with httpx.AsyncClient(headers=conn.headers, verify=conn.ssl or True,
                                 timeout=httpx.Timeout(ctx.timeout, read=None)) as http:
        try:
            async with http.stream("GET", url, params=params) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise errors.from_status(_json(body), response.status_code,
                                             body.decode(errors="replace"))
                pending = b""
                async for chunk in response.aiter_raw():
                    if not (prefix or whole_lines):
                        out.write(chunk)
                        continue
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop()
                    if lines:
                        out.write(b"".join(prefix + line + b"\n" for line in lines))
                if pending:
                    out.write(prefix + pending)
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(f"GET {url}: {exc}") from exc


def _json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except ValueError:
        return None


async def run(ctx: Context, args: argparse.Namespace) -> int:
    pods = await _pods(ctx, args)
    work = [(pod, container) for pod in pods for container in _containers(ctx, args, pod)]
    conn = connection(ctx)
    out = _Output(ctx.stdout)

    def prefix(pod: Obj, container: str) -> bytes:
        return f"[pod/{pod['metadata']['name']}/{container}] ".encode() if args.prefix else b""

    if args.follow and len(work) > 1:
        if len(work) > args.max_log_requests:
            raise CliError(f"you are attempting to follow {len(work)} log streams, but maximum "
                           f"allowed concurrency is {args.max_log_requests}, use "
                           "--max-log-requests to increase the limit")
        try:
            async with asyncio.TaskGroup() as group:
                for pod, container in work:
                    group.create_task(_stream(conn, ctx, pod, log_params(args, container), out,
                                              prefix=prefix(pod, container), whole_lines=True))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # one message, as for a single stream
        return 0
    for pod, container in work:
        await _stream(conn, ctx, pod, log_params(args, container), out,
                      prefix=prefix(pod, container), whole_lines=False)
    return 0
