"""``k8py get``: list or fetch objects and print them as tables or documents, or watch them.

Tables are the server's Table rows (kubectl's columns for every kind); other
formats fetch whole objects.  Like kubectl, a name that is not found prints
its error and the rest still print, with exit code 1 at the end; several
types print as separate tables with ``type/name`` rows; ``-w`` lists, then
watches from the list's resourceVersion and prints each changed row until
interrupted (Ctrl-C ends it with status 0).
"""

from __future__ import annotations

import argparse
from contextlib import aclosing
from typing import Any

from cli.context import Context, Target, parse_targets
from cli.errors import CliError, format_error
from cli.printers import (TABLE_ACCEPT, Output, RowOptions, TableWriter, parse_output,
                          render_objects, table_rows)
from machinery.resources import Resource, resource_path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("get", help="Display one or many resources")
    parser.add_argument("targets", nargs="*", metavar="TYPE[,TYPE...] [NAME...] | TYPE/NAME")
    parser.add_argument("-o", "--output", help="json|yaml|wide|name|jsonpath=...|custom-columns=...")
    parser.add_argument("-l", "--selector", help="label selector (e.g. -l key1=value1,key2=value2)")
    parser.add_argument("--field-selector", help="field selector (e.g. status.phase=Running)")
    parser.add_argument("--show-labels", action="store_true", help="show all labels as the last column")
    parser.add_argument("-L", "--label-columns", action="append", default=[],
                        help="labels to show as columns (repeat or comma-separate)")
    parser.add_argument("--no-headers", action="store_true", help="do not print headers")
    parser.add_argument("-w", "--watch", action="store_true",
                        help="after listing, watch for changes")
    parser.add_argument("--watch-only", action="store_true",
                        help="watch for changes without listing first")
    parser.add_argument("--show-managed-fields", action="store_true",
                        help="keep metadata.managedFields in JSON and YAML output")
    parser.add_argument("--chunk-size", type=int, default=500, help="list page size")
    parser.set_defaults(handler=run)


def _options(ctx: Context, args: argparse.Namespace, output: Output,
             targets: list[Target]) -> RowOptions:
    labels = tuple(k.strip() for spec in args.label_columns for k in spec.split(",") if k.strip())
    return RowOptions(wide=output.kind == "wide",
                      with_namespace=ctx.all_namespaces,
                      with_kind=len({t.resource for t in targets}) > 1,
                      show_labels=args.show_labels, label_columns=labels)


async def _table(ctx: Context, resource: Resource, namespace: str | None,
                 name: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    import orjson

    path = resource_path(resource, namespace if resource.namespaced else None, name)
    response = await ctx.client.request("GET", path, params=params, accept=TABLE_ACCEPT)
    table: dict[str, Any] = orjson.loads(response.content)
    return table


async def _list_table(ctx: Context, resource: Resource, args: argparse.Namespace) -> dict[str, Any]:
    """All pages of a Table list, merged; its resourceVersion is the list's."""
    merged: dict[str, Any] = {}
    token: str | None = None
    while True:
        page = await _table(ctx, resource, ctx.list_namespace(), params={
            "labelSelector": args.selector, "fieldSelector": args.field_selector,
            "limit": args.chunk_size or None, "continue": token})
        if not merged:
            merged = page
        else:
            merged["rows"] = (merged.get("rows") or []) + (page.get("rows") or [])
            merged["metadata"] = page.get("metadata") or {}
        token = (page.get("metadata") or {}).get("continue") or None
        if token is None:
            return merged


async def _fetch_tables(ctx: Context, args: argparse.Namespace, targets: list[Target],
                        failures: list[str]) -> list[tuple[Resource, dict[str, Any]]]:
    from machinery.errors import ApiError

    tables: list[tuple[Resource, dict[str, Any]]] = []
    for target in targets:
        if not target.names:
            tables.append((target.resource, await _list_table(ctx, target.resource, args)))
            continue
        merged: dict[str, Any] | None = None
        for name in target.names:
            try:
                table = await _table(ctx, target.resource, ctx.namespace, name)
            except ApiError as exc:
                failures.append(format_error(exc))
                continue
            if merged is None:
                merged = table
            else:
                merged["rows"] = (merged.get("rows") or []) + (table.get("rows") or [])
        if merged is not None:
            tables.append((target.resource, merged))
    return tables


async def _fetch_objects(ctx: Context, args: argparse.Namespace, targets: list[Target],
                         failures: list[str]) -> list[tuple[Resource, dict[str, Any]]]:
    from machinery.errors import ApiError

    found: list[tuple[Resource, dict[str, Any]]] = []
    for target in targets:
        res = target.resource
        if not target.names:
            items, _ = await ctx.client.list_all(
                res, ctx.list_namespace() if res.namespaced else None,
                label_selector=args.selector, field_selector=args.field_selector,
                page_size=args.chunk_size or 500)
            found += [(res, item) for item in items]
            continue
        for name in target.names:
            try:
                obj = await ctx.client.get(res, name, ctx.namespace)
            except ApiError as exc:
                failures.append(format_error(exc))
                continue
            obj.setdefault("apiVersion", res.api_version)
            obj.setdefault("kind", res.kind)
            found.append((res, obj))
    return found


def _nothing_found(ctx: Context, targets: list[Target]) -> str:
    if not ctx.all_namespaces and any(t.resource.namespaced for t in targets):
        return f"No resources found in {ctx.namespace} namespace."
    return "No resources found"


async def run(ctx: Context, args: argparse.Namespace) -> int:
    output = parse_output(args.output)
    targets = parse_targets(args.targets)
    if not targets:
        raise CliError('You must specify the type of resource to get. Use "k8py api-resources" '
                       "for a complete list of supported resources.")
    if ctx.all_namespaces and any(t.names for t in targets):
        raise CliError("a resource cannot be retrieved by name across all namespaces")
    failures: list[str] = []
    if args.watch or args.watch_only:
        return await _watch(ctx, args, output, targets)
    if not output.is_table:
        objects = await _fetch_objects(ctx, args, targets, failures)
        single = len(targets) == 1 and len(targets[0].names) == 1
        if not args.show_managed_fields:
            for _, obj in objects:
                (obj.get("metadata") or {}).pop("managedFields", None)
        if objects or not (single or output.kind == "name"):
            ctx.stdout.write(render_objects(objects, output, single=single))
    else:
        tables = await _fetch_tables(ctx, args, targets, failures)
        options = _options(ctx, args, output, targets)
        writer = TableWriter(ctx.stdout)
        printed = 0
        for resource, table in tables:
            headers, rows = table_rows(resource, table, options)
            if not rows:
                continue
            if printed:
                ctx.stdout.write("\n")
            writer.write(None if args.no_headers else headers, rows)
            printed += 1
        if not printed and not failures:
            ctx.warn(_nothing_found(ctx, targets))
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0


async def _watch(ctx: Context, args: argparse.Namespace, output: Output,
                 targets: list[Target]) -> int:
    if len(targets) != 1 or len(targets[0].names) > 1:
        raise CliError("watch is only supported on individual resources and resource "
                       "collections, but more than one resource was requested")
    ctx.interrupt_code = 0
    target = targets[0]
    resource = target.resource
    field_selector = args.field_selector
    if target.names:
        field_selector = ",".join(filter(None, [f"metadata.name={target.names[0]}", field_selector]))
    args.field_selector = field_selector
    if not output.is_table:
        return await _watch_objects(ctx, args, output, resource)
    options = _options(ctx, args, output, targets)
    writer = TableWriter(ctx.stdout)
    table = await _list_table(ctx, resource, args)
    columns: list[dict[str, Any]] = table.get("columnDefinitions") or []
    headers, rows = table_rows(resource, table, options)
    header_shown = False
    if not args.watch_only and rows:
        writer.write(None if args.no_headers else headers, rows)
        header_shown = True
    elif not args.watch_only:
        ctx.warn(_nothing_found(ctx, targets))
    version = str((table.get("metadata") or {}).get("resourceVersion") or "")
    async with aclosing(ctx.client.watch(
            resource, ctx.list_namespace() if resource.namespaced else None,
            resource_version=version, label_selector=args.selector,
            field_selector=field_selector, allow_bookmarks=False,
            accept=TABLE_ACCEPT)) as events:  # type: ignore[type-var]  # an async generator
        async for event in events:
            obj = event["object"]
            if obj.get("kind") != "Table":
                continue
            columns = obj.get("columnDefinitions") or columns
            headers, rows = table_rows(resource, obj, options, columns)
            show = not header_shown and not args.no_headers
            writer.write(headers if show else None, rows)
            header_shown = True
    return 0


async def _watch_objects(ctx: Context, args: argparse.Namespace, output: Output,
                         resource: Resource) -> int:
    """``-w -o yaml|json|name|jsonpath``: each object as it is listed, then as it changes."""
    namespace = ctx.list_namespace() if resource.namespaced else None
    items, version = await ctx.client.list_all(resource, namespace, label_selector=args.selector,
                                               field_selector=args.field_selector)
    printed = 0

    def show(obj: dict[str, Any]) -> None:
        nonlocal printed
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        if not args.show_managed_fields:
            (obj.get("metadata") or {}).pop("managedFields", None)
        separator = "---\n" if output.kind == "yaml" and printed else ""
        ctx.stdout.write(separator + render_objects([(resource, obj)], output, single=True))
        ctx.stdout.flush()
        printed += 1

    if not args.watch_only:
        for item in items:
            show(item)
    async with aclosing(ctx.client.watch(
            resource, namespace, resource_version=version, label_selector=args.selector,
            field_selector=args.field_selector,
            allow_bookmarks=False)) as events:  # type: ignore[type-var]  # an async generator
        async for event in events:
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                show(event["object"])
    return 0
