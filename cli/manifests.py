"""Reading ``-f`` arguments into objects: files, folders (``-R``), stdin, multi-document YAML, Lists.

Every object keeps the file it came from, because kubectl names the file in
its errors (``error when creating "web.yaml": ...``), and is resolved to its
resource and namespace here once, so apply, create and delete only act.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any

from cli.errors import CliError
from machinery.resources import Resource, by_kind

__all__ = ["Manifest", "read_manifests", "file_paths", "add_file_flags"]

_EXTENSIONS = (".json", ".yaml", ".yml")
STDIN = "STDIN"


@dataclass
class Manifest:
    source: str
    obj: dict[str, Any]
    resource: Resource

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        if not self.resource.namespaced:
            return None
        return (self.obj.get("metadata") or {}).get("namespace")


def add_file_flags(parser: Any, what: str) -> None:
    parser.add_argument("-f", "--filename", action="append", default=[],
                        help=f"files, folders or '-' (stdin) with the objects to {what}")
    parser.add_argument("-R", "--recursive", action="store_true",
                        help="process the folders given with -f recursively")


def file_paths(paths: list[str], recursive: bool) -> list[str]:
    """Expand folders to their manifest files, in kubectl's (lexical) order."""
    out: list[str] = []
    for path in paths:
        if path == "-":
            out.append(path)
        elif os.path.isdir(path):
            if recursive:
                for root, dirs, files in os.walk(path):
                    dirs.sort()
                    out += [os.path.join(root, f) for f in sorted(files) if f.endswith(_EXTENSIONS)]
            else:
                out += [os.path.join(path, f) for f in sorted(os.listdir(path))
                        if f.endswith(_EXTENSIONS) and os.path.isfile(os.path.join(path, f))]
        elif os.path.exists(path):
            out.append(path)
        else:
            raise CliError(f'the path "{path}" does not exist')
    return out


def _documents(text: str, source: str) -> list[Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [doc for doc in yaml.load_all(text, Loader=loader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise CliError(f"error parsing {source}: error converting YAML to JSON: yaml: "
                       f"{where}{problem}") from exc


def _flatten(doc: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise CliError(f"error parsing {source}: the document is not an object")
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        out: list[dict[str, Any]] = []
        for item in doc["items"]:
            out += _flatten(item, source)
        return out
    return [doc]


def _resolve(obj: dict[str, Any], source: str) -> Resource:
    missing = [f"{field} not set" for field in ("apiVersion", "kind") if not obj.get(field)]
    if missing:
        raise CliError(f'error validating "{source}": error validating data: '
                       f'[{", ".join(missing)}]; if you choose to ignore these errors, '
                       "turn validation off with --validate=false")
    resource = by_kind(str(obj["apiVersion"]), str(obj["kind"]))
    if resource is None:
        meta = obj.get("metadata") or {}
        raise CliError(f'resource mapping not found for name: "{meta.get("name", "")}" '
                       f'namespace: "{meta.get("namespace", "")}" from "{source}": no matches '
                       f'for kind "{obj["kind"]}" in version "{obj["apiVersion"]}"; '
                       "ensure CRDs are installed first")
    return resource


def read_manifests(paths: list[str], *, recursive: bool, stdin: IO[str],
                   namespace: str, explicit_namespace: bool, verb: str = "apply") -> list[Manifest]:
    """Every object named by ``-f``, namespaced ones placed in ``namespace`` if they
    name none, and refused if they name another one than an explicit ``-n``."""
    if not paths:
        raise CliError("must specify one of -f and -k")
    manifests: list[Manifest] = []
    for path in file_paths(paths, recursive):
        source = STDIN if path == "-" else path
        try:
            text = stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        except OSError as exc:
            raise CliError(f'the path "{path}" cannot be read: {exc.strerror}') from exc
        for doc in _documents(text, source):
            for obj in _flatten(doc, source):
                resource = _resolve(obj, source)
                meta = obj.setdefault("metadata", {})
                if not isinstance(meta, dict):
                    raise CliError(f'error validating "{source}": metadata is not an object')
                if resource.namespaced:
                    own = meta.get("namespace")
                    if own and explicit_namespace and own != namespace:
                        raise CliError(
                            f'the namespace from the provided object "{own}" does not match '
                            f'the namespace "{namespace}". You must pass \'--namespace={own}\' '
                            "to perform this operation.")
                    meta["namespace"] = own or namespace
                manifests.append(Manifest(source, obj, resource))
    if not manifests:
        raise CliError(f"no objects passed to {verb}")
    return manifests
