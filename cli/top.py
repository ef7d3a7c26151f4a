"""``k8py top pod|node``: CPU and memory in use, read from the ``metrics.k8s.io`` API.

Like ``kubectl top`` this asks the metrics group (PodMetrics, NodeMetrics),
never the kubelets, and prints what kubectl prints, byte for byte: CPU as
millicores rounded up (``Quantity.MilliValue``), memory as whole MiB rounded
down, every cell tab-terminated through Go's tabwriter (so lines keep
trailing padding), rows by name unless ``--sort-by`` orders them largest
first. Node percentages are of allocatable (``--show-capacity``: capacity),
and a node without metrics still gets a row of ``<unknown>``.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context
from cli.errors import CliError

__all__ = ["register", "run_pods", "run_nodes", "cpu_cell", "memory_cell", "percent_cell",
           "pod_lines", "node_lines", "render"]

Obj = dict[str, Any]
METRICS = "/apis/metrics.k8s.io/v1beta1"
POD_COLUMNS = ["NAME", "CPU(cores)", "MEMORY(bytes)"]
NODE_COLUMNS = ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
_MIB = 1024 * 1024


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    top = subparsers.add_parser("top", help="Display resource (CPU/memory) usage")
    kinds = top.add_subparsers(title="subcommands", metavar="COMMAND")

    pods = kinds.add_parser("pod", aliases=["pods", "po"], help="Display resource usage of pods")
    pods.add_argument("name", nargs="?", default=None)
    pods.add_argument("-l", "--selector", default="", help="label query to filter on")
    pods.add_argument("--field-selector", default="", help="field query to filter on")
    pods.add_argument("--containers", action="store_true",
                      help="print usage of containers within a pod")
    pods.add_argument("--sum", action="store_true", help="print the sum of the resource usage")
    _common(pods)
    pods.set_defaults(handler=run_pods)

    nodes = kinds.add_parser("node", aliases=["nodes", "no"], help="Display resource usage of nodes")
    nodes.add_argument("name", nargs="?", default=None)
    nodes.add_argument("-l", "--selector", default="", help="label query to filter on")
    nodes.add_argument("--show-capacity", action="store_true",
                       help="percentages of capacity instead of allocatable")
    _common(nodes)
    nodes.set_defaults(handler=run_nodes)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sort-by", choices=("cpu", "memory"), default="",
                        help="sort by this resource, largest first")
    parser.add_argument("--no-headers", action="store_true", help="print no header line")


# -- formatting -----------------------------------------------------------------------------


def cpu_cell(quantity: Any) -> str:
    from machinery.quantity import cpu_millis

    return f"{cpu_millis(quantity or 0)}m"


def memory_cell(quantity: Any) -> str:
    from machinery.quantity import memory_bytes

    return f"{memory_bytes(quantity or 0) // _MIB}Mi"


def percent_cell(used: Any, available: Any) -> str | None:
    """kubectl's ``int64(used/available*100)`` in millis; None when nothing is available."""
    from machinery.quantity import cpu_millis

    whole = cpu_millis(available or 0)
    if whole <= 0:
        return None
    return f"{int(cpu_millis(used or 0) / whole * 100)}%"


def _total(containers: list[Obj], resource: str) -> Any:
    from machinery.quantity import parse_quantity

    return sum((parse_quantity((c.get("usage") or {}).get(resource) or "0") for c in containers),
               start=parse_quantity("0"))


def _sort_key(sort_by: str, usage: Obj) -> Any:
    from machinery.quantity import cpu_millis, memory_bytes

    if sort_by == "cpu":
        return -cpu_millis(usage.get("cpu") or 0)
    return -memory_bytes(usage.get("memory") or 0)


def pod_lines(items: list[Obj], *, containers: bool = False, with_namespace: bool = False,
              sort_by: str = "", headers: bool = True, with_sum: bool = False) -> list[list[str]]:
    """Rows of cells for PodMetrics, in kubectl's order and columns."""
    lines: list[list[str]] = []
    if headers:
        lines.append((["NAMESPACE"] if with_namespace else []) + (["POD"] if containers else [])
                     + POD_COLUMNS)
    pods = [(item, {"cpu": _total(item.get("containers") or [], "cpu"),
                    "memory": _total(item.get("containers") or [], "memory")}) for item in items]
    if sort_by:
        pods.sort(key=lambda p: _sort_key(sort_by, p[1]))
    else:
        pods.sort(key=lambda p: ((p[0]["metadata"].get("namespace") or "") if with_namespace
                                 else "", p[0]["metadata"]["name"]))
    for item, usage in pods:
        meta = item["metadata"]
        prefix = [meta.get("namespace") or ""] if with_namespace else []
        if not containers:
            lines.append(prefix + [meta["name"], cpu_cell(usage["cpu"]),
                                   memory_cell(usage["memory"])])
            continue
        entries = list(item.get("containers") or [])
        entries.sort(key=lambda c: _sort_key(sort_by, c.get("usage") or {}) if sort_by
                     else c.get("name") or "")
        for entry in entries:
            usage_of = entry.get("usage") or {}
            lines.append(prefix + [meta["name"], entry.get("name") or "",
                                   cpu_cell(usage_of.get("cpu")),
                                   memory_cell(usage_of.get("memory"))])
    if with_sum and pods:
        width = len(POD_COLUMNS) + with_namespace + containers
        lines.append([""] * (width - 2) + ["________", "________"])
        lines.append([""] * (width - 2) + [cpu_cell(sum(u["cpu"] for _, u in pods)),
                                           memory_cell(sum(u["memory"] for _, u in pods))])
    return lines


def node_lines(items: list[Obj], available: dict[str, Obj], *, sort_by: str = "",
               headers: bool = True) -> list[list[str]]:
    """Rows for NodeMetrics; nodes in ``available`` without metrics end as ``<unknown>``."""
    lines: list[list[str]] = [list(NODE_COLUMNS)] if headers else []
    ordered = sorted(items, key=lambda i: (_sort_key(sort_by, i.get("usage") or {})
                                           if sort_by else 0, i["metadata"]["name"]))
    for item in ordered:
        name = item["metadata"]["name"]
        usage, room = item.get("usage") or {}, available.get(name) or {}
        row = [name]
        for resource, cell in (("cpu", cpu_cell), ("memory", memory_cell)):
            row.append(cell(usage.get(resource)))
            share = percent_cell(usage.get(resource), room.get(resource)) if room else None
            if share is not None:
                row.append(share)
        lines.append(row)
    measured = {i["metadata"]["name"] for i in items}
    for name in sorted(set(available) - measured):
        lines.append([name] + ["<unknown>"] * 4)
    return lines


def render(lines: list[list[str]]) -> str:
    """Tab-terminated cells through kubectl's tabwriter (minwidth 6, padding 3)."""
    from cli.tabwriter import tabwrite

    if not lines:
        return ""
    return tabwrite("".join("".join(f"{cell}\t" for cell in line) + "\n" for line in lines),
                    padding=3, minwidth=6)


# -- verbs ----------------------------------------------------------------------------------


async def _metrics(ctx: Context, path: str, params: dict[str, str], named: bool) -> Obj:
    from machinery import errors

    try:
        response = await ctx.client.request("GET", path, params=params)
    except errors.NotFound:
        if named:
            raise
        raise CliError("Metrics API not available") from None
    import orjson

    body: Obj = orjson.loads(response.content)
    return body


async def run_pods(ctx: Context, args: argparse.Namespace) -> int:
    namespace = None if ctx.all_namespaces else ctx.namespace
    base = f"{METRICS}/namespaces/{namespace}/pods" if namespace else f"{METRICS}/pods"
    params = {k: v for k, v in (("labelSelector", args.selector),
                                ("fieldSelector", args.field_selector)) if v}
    if args.name:
        items = [await _metrics(ctx, f"{base}/{args.name}", {}, True)]
    else:
        items = list((await _metrics(ctx, base, params, False)).get("items") or [])
    if not items:
        pods = await ctx.client.list("pods", namespace, label_selector=args.selector or None,
                                     field_selector=args.field_selector or None, limit=1)
        if pods.get("items"):
            raise CliError("metrics not available yet")
        ctx.warn("No resources found" if namespace is None
                 else f"No resources found in {namespace} namespace.")
        return 0
    ctx.stdout.write(render(pod_lines(items, containers=args.containers,
                                      with_namespace=namespace is None, sort_by=args.sort_by,
                                      headers=not args.no_headers, with_sum=args.sum)))
    return 0


async def run_nodes(ctx: Context, args: argparse.Namespace) -> int:
    if args.name:
        items = [await _metrics(ctx, f"{METRICS}/nodes/{args.name}", {}, True)]
        nodes = [await ctx.client.get("nodes", args.name)]
    else:
        params = {"labelSelector": args.selector} if args.selector else {}
        items = list((await _metrics(ctx, f"{METRICS}/nodes", params, False)).get("items") or [])
        nodes = list((await ctx.client.list("nodes", label_selector=args.selector or None))
                     .get("items") or [])
    field = "capacity" if args.show_capacity else "allocatable"
    available = {n["metadata"]["name"]: dict((n.get("status") or {}).get(field) or {})
                 for n in nodes}
    if not items:
        raise CliError("metrics not available yet")
    ctx.stdout.write(render(node_lines(items, available, sort_by=args.sort_by,
                                       headers=not args.no_headers)))
    return 0
