"""The vocabulary of Table printers: columns, printers and the shared columns.

A printer is data (its column definitions) plus one function from an object to
its row cells. The server always renders every column, the ``priority: 1``
ones included, because kubectl itself decides whether ``-o wide`` shows them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apiserver import schema

__all__ = [
    "Cell",
    "Column",
    "Printer",
    "field_doc",
    "name_column",
    "age_column",
    "CONTAINERS",
    "IMAGES",
    "META",
]

Cell = str | int | bool | float | None
CellsFn = Callable[[dict[str, Any], datetime], list[Cell]]
ConditionsFn = Callable[[dict[str, Any]], list[dict[str, str]] | None]

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.cache
def field_doc(definition: str, *path: str) -> str:
    """The published description of a field, used as a column's description.

    Kubernetes describes most columns with the API field's own documentation;
    reading it from the v1.32 schemas keeps those texts exact without copying
    them here.
    """
    node: schema.Schema | None = schema.definitions().get(definition)
    for field in path:
        node = schema.child(node, field)
    if node is None:
        return ""
    return str(node.get("description") or schema.resolve(node).get("description") or "")


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    """Columns and the function that fills one row for one object."""

    columns: tuple[Column, ...]
    cells: CellsFn
    # Row conditions (``Completed``) let clients tell finished rows apart.
    conditions: ConditionsFn | None = None


def name_column(priority: int = 0) -> Column:
    return Column("Name", "string", field_doc(META, "name"), priority, "name")


def age_column() -> Column:
    return Column("Age", "string", field_doc(META, "creationTimestamp"))


CONTAINERS = Column("Containers", description="Names of each container in the template.", priority=1)
IMAGES = Column("Images", description="Images referenced by each container in the template.", priority=1)
