"""``k8py api-resources``: what the server serves, read from its discovery documents.

Unlike the other verbs this asks the server rather than the built-in
resource table, so it shows exactly what the connected API server offers.
It reads aggregated discovery (``apidiscovery.k8s.io/v2``, two requests) and
falls back to the legacy per-group documents for servers without it; rows
are sorted by group then name, as kubectl sorts them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from cli.context import Context
from cli.errors import CliError

__all__ = ["register", "run", "ApiResource", "from_aggregated", "from_legacy"]

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass(frozen=True)
class ApiResource:
    name: str
    short_names: tuple[str, ...]
    group: str
    version: str
    namespaced: bool
    kind: str
    verbs: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("api-resources", help="Print the supported API resources on the server")
    parser.add_argument("--namespaced", choices=("true", "false"), default=None,
                        help="only namespaced (true) or cluster-scoped (false) resources")
    parser.add_argument("--api-group", default=None, help="only resources of this API group")
    parser.add_argument("--verbs", default="", help="only resources supporting these verbs (comma-separated)")
    parser.add_argument("-o", "--output", choices=("wide", "name"), default=None)
    parser.add_argument("--no-headers", action="store_true")
    parser.add_argument("--sort-by", choices=("name", "kind"), default=None)
    parser.set_defaults(handler=run)


def from_aggregated(doc: dict[str, Any]) -> list[ApiResource]:
    out = []
    for group in doc.get("items") or []:
        name = (group.get("metadata") or {}).get("name", "")
        versions = group.get("versions") or []
        if not versions:
            continue
        version = versions[0]  # the preferred version comes first
        for res in version.get("resources") or []:
            kind = (res.get("responseKind") or {}).get("kind", "")
            out.append(ApiResource(res.get("resource", ""), tuple(res.get("shortNames") or ()),
                                   name, version.get("version", ""),
                                   res.get("scope") == "Namespaced", kind,
                                   tuple(res.get("verbs") or ()), tuple(res.get("categories") or ())))
    return out


def from_legacy(group: str, version: str, doc: dict[str, Any]) -> list[ApiResource]:
    return [ApiResource(r.get("name", ""), tuple(r.get("shortNames") or ()), group, version,
                        bool(r.get("namespaced")), r.get("kind", ""), tuple(r.get("verbs") or ()),
                        tuple(r.get("categories") or ()))
            for r in doc.get("resources") or [] if "/" not in r.get("name", "")]


async def _get(ctx: Context, path: str, accept: str | None = None) -> tuple[dict[str, Any], str]:
    import orjson

    response = await ctx.client.request("GET", path, accept=accept)
    data = orjson.loads(response.content)
    if not isinstance(data, dict):
        raise CliError(f"unexpected discovery document at {path}")
    return data, response.headers.get("content-type", "")


async def discover(ctx: Context) -> list[ApiResource]:
    resources: list[ApiResource] = []
    for root in ("/api", "/apis"):
        doc, content_type = await _get(ctx, root, f"{AGGREGATED},application/json")
        if content_type.replace(" ", "").startswith(AGGREGATED):
            resources += from_aggregated(doc)
        elif root == "/api":
            for version in doc.get("versions") or []:
                resources += from_legacy("", version, (await _get(ctx, f"/api/{version}"))[0])
        else:
            for group in doc.get("groups") or []:
                preferred = (group.get("preferredVersion") or {}).get("version") \
                    or (group.get("versions") or [{}])[0].get("version", "")
                listing, _ = await _get(ctx, f"/apis/{group.get('name')}/{preferred}")
                resources += from_legacy(group.get("name", ""), preferred, listing)
    return resources


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from cli.printers import TableWriter

    resources = await discover(ctx)
    wanted_verbs = [v for v in args.verbs.split(",") if v]
    selected = [r for r in resources
                if (args.namespaced is None or r.namespaced == (args.namespaced == "true"))
                and (args.api_group is None or r.group == args.api_group)
                and all(v in r.verbs for v in wanted_verbs)]
    if args.sort_by == "kind":
        selected.sort(key=lambda r: (r.kind, r.name))
    elif args.sort_by == "name":
        selected.sort(key=lambda r: (r.name, r.group))
    else:
        selected.sort(key=lambda r: (r.group, r.name))
    if args.output == "name":
        for r in selected:
            ctx.print(f"{r.name}.{r.group}" if r.group else r.name)
        return 0
    headers = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = [[r.name, ",".join(r.short_names), r.api_version, "true" if r.namespaced else "false",
             r.kind] for r in selected]
    if args.output == "wide":
        headers += ["VERBS", "CATEGORIES"]
        for row, r in zip(rows, selected):
            row += [",".join(sorted(r.verbs)), ",".join(r.categories)]
    TableWriter(ctx.stdout, colour=False).write(None if args.no_headers else headers, rows)
    return 0
