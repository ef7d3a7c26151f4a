"""Output formats shared by the verbs: tables, YAML, JSON, names, JSONPath, custom columns.

Tables come from the server's ``meta.k8s.io/v1`` Table responses, so columns
match kubectl's for every kind; this module only lays them out the way
kubectl's tabwriter does (each column as wide as its widest cell plus three
spaces, the last column unpadded), upper-cases the headers, shows priority-1
columns only with ``-o wide``, and adds NAMESPACE, ``-L`` and LABELS columns.
On a terminal the header is bold and healthy/failing states are coloured via
``rich``; piped output or ``NO_COLOR`` stays plain.

YAML and JSON follow kubectl too: keys sorted, JSON indented by four spaces,
YAML strings double-quoted when they would otherwise read as another type,
multi-line strings as literal blocks, several objects wrapped in a ``List``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import IO, Any

from cli.context import type_name
from cli.errors import CliError
from machinery.resources import Resource

__all__ = [
    "TABLE_ACCEPT", "Output", "parse_output", "dump_json", "dump_yaml", "as_list",
    "layout", "TableWriter", "table_rows", "RowOptions", "object_name", "render_objects",
    "use_colour", "custom_columns",
]

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
_FORMATS = ("json", "yaml", "name", "wide", "jsonpath", "custom-columns")
_GOOD = frozenset({"Running", "Active", "Ready", "True", "Bound", "Completed", "Succeeded",
                   "Available", "Complete"})
_WAITING = frozenset({"Pending", "ContainerCreating", "Terminating", "PodInitializing",
                      "Unknown", "SchedulingDisabled"})
_BAD = re.compile(r"Err|BackOff|Fail|Error|NotReady|Evicted|OOMKilled|Lost|Invalid|Unschedulable")


@dataclass(frozen=True)
class Output:
    """A parsed ``-o`` value: ``kind`` is one of the formats, ``arg`` its template if any."""

    kind: str = ""
    arg: str = ""

    @property
    def is_table(self) -> bool:
        return self.kind in ("", "wide")


def parse_output(spec: str | None) -> Output:
    if not spec:
        return Output()
    kind, sep, arg = spec.partition("=")
    if kind in ("json", "yaml", "name", "wide") and not sep:
        return Output(kind)
    if kind in ("jsonpath", "custom-columns") and sep:
        if not arg:
            raise CliError(f"{kind} format specified but no template given")
        return Output(kind, arg)
    raise CliError(f'unable to match a printer suitable for the output format "{spec}", '
                   f"allowed formats are: {','.join(sorted(_FORMATS))}")


# -- YAML and JSON -------------------------------------------------------------


def dump_json(obj: Any, *, indent: int = 4, sort_keys: bool = True) -> str:
    import json

    return json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False) + "\n"


def _yaml_dumper() -> Any:
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        # Go's YAML library double-quotes what PyYAML would single-quote.
        def choose_scalar_style(self) -> str:
            style = str(super().choose_scalar_style())
            return '"' if style == "'" else style

    def represent_str(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    # Go's YAML 1.1 resolver also reads y/n as booleans, so those get quoted too.
    Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"),
                                 list("yYnN"))
    return Dumper


_DUMPER: Any = None


def dump_yaml(obj: Any) -> str:
    global _DUMPER
    import yaml

    if _DUMPER is None:
        _DUMPER = _yaml_dumper()
    return str(yaml.dump(obj, Dumper=_DUMPER, width=1 << 30, allow_unicode=True,
                         default_flow_style=False, sort_keys=True))


def as_list(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's wrapper for several objects printed as one document."""
    return {"apiVersion": "v1", "items": objects, "kind": "List",
            "metadata": {"resourceVersion": ""}}


def object_name(resource: Resource, obj: dict[str, Any]) -> str:
    return f"{type_name(resource)}/{(obj.get('metadata') or {}).get('name', '')}"


def custom_columns(spec: str, objects: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells for ``-o custom-columns=HEADER:.path,...``."""
    from cli import jsonpath

    headers: list[str] = []
    paths: list[jsonpath.Template] = []
    for column in spec.split(","):
        header, sep, path = column.partition(":")
        if not sep or not header:
            raise CliError(f'unexpected custom-columns spec: {column}, expected <header>:<json-path-expr>')
        path = path.strip()
        if not path.startswith("{"):
            path = "{" + (path if path.startswith(".") else "." + path) + "}"
        headers.append(header)
        paths.append(jsonpath.parse(path))
    rows = []
    for obj in objects:
        row = []
        for template in paths:
            values = [v for node in template if isinstance(node, jsonpath.Path)
                      for v in jsonpath.evaluate(node, obj)]
            row.append(",".join(jsonpath.format_value(v) for v in values) if values else "<none>")
        rows.append(row)
    return headers, rows


def render_objects(objects: list[tuple[Resource, dict[str, Any]]], output: Output,
                   *, single: bool) -> str:
    """The text of full objects in a non-table format (``single``: no List wrapper)."""
    if output.kind == "name":
        return "".join(object_name(res, obj) + "\n" for res, obj in objects)
    items = [obj for _, obj in objects]
    doc: Any = items[0] if single and len(items) == 1 else as_list(items)
    if output.kind == "json":
        return dump_json(doc)
    if output.kind == "yaml":
        return dump_yaml(doc)
    if output.kind == "jsonpath":
        from cli import jsonpath

        return jsonpath.render(output.arg, doc)
    if output.kind == "custom-columns":
        headers, rows = custom_columns(output.arg, items)
        return "".join(line + "\n" for line in layout(headers, rows))
    raise CliError(f"output format {output.kind!r} does not print objects")


# -- tables --------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    return str(value)


def layout(headers: list[str] | None, rows: list[list[str]]) -> list[str]:
    """Lines laid out as kubectl's tabwriter does (padding 3, last column free)."""
    every = ([headers] if headers else []) + rows
    if not every:
        return []
    count = max(len(r) for r in every)
    widths = [max((len(r[i]) for r in every if i < len(r)), default=0) for i in range(count)]
    lines = []
    for row in every:
        cells = [cell.ljust(widths[i] + 3) if i < len(row) - 1 else cell
                 for i, cell in enumerate(row)]
        lines.append("".join(cells))
    return lines


def use_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _style(cell: str) -> str | None:
    words = [w for w in re.split(r"[\s,()]+", cell) if w]
    if any(_BAD.search(w) for w in words):
        return "red"
    if any(w in _WAITING for w in words):
        return "yellow"
    if any(w in _GOOD for w in words):
        return "green"
    return None


class TableWriter:
    """Writes laid-out rows, coloured on a terminal."""

    def __init__(self, stream: IO[str], colour: bool | None = None) -> None:
        self.stream = stream
        self.colour = use_colour(stream) if colour is None else colour
        self._console: Any = None

    def write(self, headers: list[str] | None, rows: list[list[str]]) -> None:
        lines = layout(headers, rows)
        if not self.colour:
            for line in lines:
                self.stream.write(line + "\n")
            self.stream.flush()
            return
        from rich.console import Console
        from rich.text import Text

        if self._console is None:
            self._console = Console(file=self.stream, highlight=False, soft_wrap=True,
                                    force_terminal=True)
        every = ([headers] if headers else []) + rows
        for index, (line, row) in enumerate(zip(lines, every)):
            text = Text(line)
            if headers and index == 0:
                text.stylize("bold")
            else:
                pos = 0
                for cell_index, cell in enumerate(row):
                    start = line.find(cell, pos) if cell else pos
                    style = _style(cell) if cell_index > 0 else None
                    if style and start >= 0:
                        text.stylize(style, start, start + len(cell))
                    pos = max(pos, start + len(cell))
            self._console.print(text)


@dataclass(frozen=True)
class RowOptions:
    """How a server Table becomes printed rows."""

    wide: bool = False
    with_namespace: bool = False
    with_kind: bool = False
    show_labels: bool = False
    label_columns: tuple[str, ...] = ()


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    obj = row.get("object") or {}
    return obj.get("metadata") or {}


def table_rows(resource: Resource, table: dict[str, Any], options: RowOptions,
               columns: list[dict[str, Any]] | None = None) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of one server Table (``columns`` from an earlier page or event)."""
    definitions = columns if columns is not None else table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(definitions) if options.wide or not c.get("priority")]
    headers = [str(definitions[i].get("name", "")).upper() for i in keep]
    if options.with_namespace:
        headers.insert(0, "NAMESPACE")
    headers += [key.rpartition("/")[2].upper() for key in options.label_columns]
    if options.show_labels:
        headers.append("LABELS")
    rows = []
    prefix = type_name(resource) + "/" if options.with_kind else ""
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        out = [_cell(cells[i]) if i < len(cells) else "" for i in keep]
        if out and prefix:
            out[0] = prefix + out[0]
        meta = _meta(row)
        labels = meta.get("labels") or {}
        if options.with_namespace:
            out.insert(0, str(meta.get("namespace") or ""))
        out += [str(labels.get(key, "")) for key in options.label_columns]
        if options.show_labels:
            out.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        rows.append(out)
    return headers, rows
