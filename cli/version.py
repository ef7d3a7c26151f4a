"""``k8py version``: the client's version and the server's ``/version``.

The client reports itself as the Kubernetes release whose API it speaks
(1.32), with k8py's own version in the git version string, so tooling that
compares client and server minor versions treats the pair as matched.
"""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from cli.context import Context
from cli.errors import CliError

__all__ = ["register", "client_version"]

K8PY_VERSION = "0.1.0"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("version", help="Print the client and server version information")
    parser.add_argument("--client", action="store_true", help="print the client version only")
    parser.add_argument("-o", "--output", choices=("json", "yaml"), default=None,
                        help="one of 'yaml' or 'json'")
    parser.set_defaults(handler=run)


def client_version() -> dict[str, str]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": f"v1.32.4-k8py.{K8PY_VERSION}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{sys.version.split()[0]}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{sys.platform}/{machine}",
    }


async def _server_version(ctx: Context) -> dict[str, Any]:
    response = await ctx.client.request("GET", "/version")
    import orjson

    data = orjson.loads(response.content)
    if not isinstance(data, dict):
        raise CliError("the server returned an invalid /version document")
    return data


async def run(ctx: Context, args: argparse.Namespace) -> int:
    info: dict[str, Any] = {"clientVersion": client_version()}
    if not args.client:
        info["serverVersion"] = await _server_version(ctx)
    if args.output:
        from cli.printers import dump_json, dump_yaml

        text = dump_json(info, indent=2, sort_keys=False) if args.output == "json" \
            else dump_yaml(info)
        ctx.stdout.write(text)
        return 0
    ctx.print(f"Client Version: {info['clientVersion']['gitVersion']}")
    if "serverVersion" in info:
        ctx.print(f"Server Version: {info['serverVersion'].get('gitVersion', '')}")
    return 0
