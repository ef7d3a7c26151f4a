"""``k8py describe``: a readable report of objects and their recent events, as kubectl prints it.

The command resolves what to describe (``TYPE NAME``, ``TYPE/NAME``, ``TYPE``
with ``-l``, or a name prefix when no object has the exact name) and hands
each object to the describer of its kind (``cli.describe_pod``,
``cli.describe_kinds``); kinds without one get the generic report of all
their fields.  Describers write kubectl's tab-separated lines to a ``Writer``
and the layout comes from ``cli.tabwriter``, so spacing matches kubectl's.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from cli.context import Context, parse_targets
from cli.errors import CliError, format_error
from cli.tabwriter import tabwrite
from machinery.resources import Resource

__all__ = ["register", "run", "Writer", "Describer", "DESCRIBERS", "since", "rfc1123z",
           "labels_multiline", "annotations_multiline", "describe_events", "search_events",
           "describe_generic", "controlled_by"]

Describer = Callable[[Context, dict[str, Any]], Awaitable[str]]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140


class Writer:
    """kubectl's PrefixWriter over a tabwriter: two spaces per level, flushable."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._done: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._pending.append("  " * level + text)

    def optional(self, level: int, title: str, value: Any) -> None:
        """A ``title:\tvalue`` line only when the value is set (kubectl's optional fields)."""
        if value:
            self.write(level, f"{title}:\t{value}\n")

    def line(self, text: str) -> None:
        """Finish the current line (kubectl's WriteLine)."""
        self._pending.append(text + "\n")

    def flush(self) -> None:
        if self._pending:
            self._done.append(tabwrite("".join(self._pending)))
            self._pending = []

    def text(self) -> str:
        self.flush()
        return "".join(self._done)


def since(timestamp: str | None, now: datetime | None = None) -> str:
    """Kubernetes' HumanDuration of the time since an RFC 3339 timestamp."""
    from apiserver.tables.format import human_duration
    from machinery.meta import parse_time

    if not timestamp:
        return "<unknown>"
    try:
        when = parse_time(timestamp)
    except ValueError:
        return "<unknown>"
    return human_duration((now or datetime.now(timezone.utc)) - when)


def rfc1123z(timestamp: str | None) -> str:
    """Go's time.RFC1123Z, the format describe prints absolute times in."""
    from machinery.meta import parse_time

    if not timestamp:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return parse_time(timestamp).strftime("%a, %d %b %Y %H:%M:%S %z")


def labels_multiline(w: Writer, title: str, labels: dict[str, str] | None,
                     indent: str = "", inner: str = "\t") -> None:
    w.write(0, f"{indent}{title}:{inner}")
    if not labels:
        w.line("<none>")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, indent + inner)
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: Writer, title: str, annotations: dict[str, str] | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.line("<none>")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = str((annotations or {})[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for part in value.split("\n"):
                short = part if len(part) <= MAX_ANNOTATION_LEN - 2 \
                    else part[:MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def controlled_by(obj: dict[str, Any]) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


async def search_events(ctx: Context, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The core/v1 events about one object, found the way kubectl finds them."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    terms = [f"involvedObject.name={meta.get('name', '')}"]
    if namespace:
        terms.append(f"involvedObject.namespace={namespace}")
    if meta.get("uid"):
        terms.append(f"involvedObject.uid={meta['uid']}")
    items, _ = await ctx.client.list_all("events", namespace or None,
                                         field_selector=",".join(terms))
    return items


def _event_time(event: dict[str, Any]) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime")
               or (event.get("series") or {}).get("lastObservedTime") or "")


def describe_events(w: Writer, events: list[dict[str, Any]]) -> None:
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for event in sorted(events, key=_event_time):
        first = since(event.get("eventTime")) if event.get("eventTime") \
            else since(event.get("firstTimestamp"))
        series = event.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'))} (x{series.get('count', 0)} over {first})"
        elif int(event.get("count") or 0) > 1:
            interval = f"{since(event.get('lastTimestamp'))} (x{event['count']} over {first})"
        else:
            interval = first
        source = (event.get("source") or {}).get("component") or event.get("reportingController") or ""
        message = str(event.get("message") or "").strip()
        field_path = (event.get("involvedObject") or {}).get("fieldPath")
        if field_path:
            message = f"{field_path}: {message}"
        w.write(1, f"{event.get('type', '')}\t{event.get('reason', '')}\t{interval}\t{source}\t{message}\n")


def _smart_label(field: str) -> str:
    """kubectl's field-name-to-title rule: ``podIP`` -> ``Pod IP``, ``uid`` -> ``UID``."""
    import re

    if any(not (c.isalpha() or c == "-") for c in field):
        return field
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|-", field)
    out = []
    for part in parts:
        if part.upper() in ("API", "URL", "UID", "GUID"):
            out.append(part.upper())
        elif part.islower():
            out.append(part[:1].upper() + part[1:])
        else:
            out.append(part)
    return " ".join(out)


def _unstructured(w: Writer, level: int, content: dict[str, Any], prefix: str,
                  skip: frozenset[str]) -> None:
    from cli.jsonpath import format_value

    for field in sorted(content):
        value = content[field]
        path = f"{prefix}.{field}"
        if path in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{_smart_label(field)}:\n")
            _unstructured(w, level + 1, value, path, skip)
        elif isinstance(value, list):
            w.write(level, f"{_smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _unstructured(w, level + 1, child, path, skip)
                else:
                    w.write(level + 1, f"{format_value(child)}\n")
        else:
            w.write(level, f"{_smart_label(field)}:\t{format_value(value)}\n")


async def describe_generic(ctx: Context, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    _unstructured(w, 0, obj, "", frozenset({
        ".metadata.managedFields", ".metadata.name", ".metadata.namespace",
        ".metadata.labels", ".metadata.annotations"}))
    describe_events(w, await search_events(ctx, obj))
    return w.text()


def _describers() -> dict[tuple[str, str], Describer]:
    from cli import describe_kinds, describe_node, describe_pod, describe_workloads

    return {**describe_pod.DESCRIBERS, **describe_kinds.DESCRIBERS, **describe_node.DESCRIBERS,
            **describe_workloads.DESCRIBERS}


DESCRIBERS: Callable[[], dict[tuple[str, str], Describer]] = _describers


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("describe", help="Show details of a specific resource or group of resources")
    parser.add_argument("targets", nargs="*", metavar="TYPE [NAME_PREFIX...] | TYPE/NAME")
    parser.add_argument("-l", "--selector", help="describe the objects matching this label selector")
    parser.set_defaults(handler=run)


async def _objects(ctx: Context, resource: Resource, names: tuple[str, ...],
                   selector: str | None, failures: list[str],
                   prefix_ok: bool) -> tuple[list[dict[str, Any]], bool]:
    """The objects to describe, and whether they were found by name prefix."""
    from machinery.errors import ApiError, NotFound

    namespace = ctx.list_namespace() if resource.namespaced else None
    if not names:
        items, _ = await ctx.client.list_all(resource, namespace, label_selector=selector)
        return items, False
    found: list[dict[str, Any]] = []
    for name in names:
        try:
            found.append(await ctx.client.get(resource, name, ctx.namespace))
        except NotFound as exc:
            if not prefix_ok:
                failures.append(format_error(exc))
                continue
            # As kubectl: ``describe TYPE NAME`` with no exact match takes the name as a prefix.
            listing, _ = await ctx.client.list_all(resource, namespace, label_selector=selector)
            matches = [o for o in listing if o["metadata"]["name"].startswith(name)]
            if not matches:
                failures.append(format_error(exc))
            return matches, True
        except ApiError as exc:
            failures.append(format_error(exc))
    return found, False


async def run(ctx: Context, args: argparse.Namespace) -> int:
    targets = parse_targets(args.targets)
    if not targets:
        raise CliError('You must specify the type of resource to describe. Use "k8py api-resources" '
                       "for a complete list of supported resources.")
    describers = DESCRIBERS()
    failures: list[str] = []
    reports: list[str] = []
    by_prefix = False
    single = len(args.targets) == 2 and len(targets) == 1
    for target in targets:
        res = target.resource
        found, by_prefix = await _objects(ctx, res, target.names, args.selector, failures, single)
        for obj in found:
            obj.setdefault("apiVersion", res.api_version)
            obj.setdefault("kind", res.kind)
            describer = describers.get((res.group, res.plural), describe_generic)
            reports.append(await describer(ctx, obj))
    if reports:
        ctx.stdout.write("".join(r + "\n" for r in reports) if by_prefix else "\n\n".join(reports))
    elif not failures:
        ctx.warn(f"No resources found in {ctx.namespace} namespace."
                 if any(t.resource.namespaced for t in targets) and not ctx.all_namespaces
                 else "No resources found")
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0
