"""What every verb starts from: the connection, the namespace, and what the user named.

A verb handler receives a ``Context``.  It resolves the kubeconfig (``--kubeconfig``,
``--context``, ``--server``), the namespace (``-n``, else the context's) and
opens one ``ApiClient`` on first use, so verbs that never talk to the server
(``config``, ``completion``, ``version --client``) pay for none of it.

Resource arguments are parsed here once for all verbs, following kubectl's
rules: ``TYPE[,TYPE...] [NAME...]`` or ``TYPE/NAME...``, short names and
``kind.group`` spellings, and the ``all`` category.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from cli.errors import CliError
from machinery.resources import RESOURCES, Resource, lookup

if TYPE_CHECKING:
    from machinery.client import ApiClient
    from machinery.kubeconfig import Kubeconfig, ResolvedContext

__all__ = ["Context", "Target", "resolve_type", "expand_types", "parse_targets",
           "parse_duration", "type_name"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration (``30s``, ``1m30s``, ``500ms``) or a bare number."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise CliError(f'invalid duration "{text}"')
    return total


class Context:
    """The per-invocation state a verb handler works with."""

    def __init__(self, args: argparse.Namespace, *, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, stdin: IO[str] | None = None,
                 client: ApiClient | None = None) -> None:
        self.args = args
        self.stdout: IO[str] = stdout or sys.stdout
        self.stderr: IO[str] = stderr or sys.stderr
        self.stdin: IO[str] = stdin or sys.stdin
        # Exit code when the user interrupts; watches finish normally on Ctrl-C.
        self.interrupt_code = 130
        self._config: Kubeconfig | None = None
        self._resolved: ResolvedContext | None = None
        self._client: ApiClient | None = client
        # An injected client (tests, embedding) brings its own default namespace.
        self._default_namespace = client.namespace if client is not None else None

    # -- configuration -------------------------------------------------------

    def kubeconfig(self) -> Kubeconfig:
        if self._config is None:
            from machinery import kubeconfig

            self._config = kubeconfig.load(getattr(self.args, "kubeconfig", None))
        return self._config

    def resolved(self) -> ResolvedContext:
        """The connection settings after ``--context`` and ``--server`` are applied."""
        if self._resolved is None:
            from machinery.kubeconfig import KubeconfigError, ResolvedContext

            server = getattr(self.args, "server", None)
            try:
                resolved = self.kubeconfig().context(getattr(self.args, "context", None))
            except KubeconfigError:
                if not server:
                    raise
                resolved = ResolvedContext(name="", server=server)
            if server:
                from dataclasses import replace

                resolved = replace(resolved, server=server.rstrip("/"))
            self._resolved = resolved
        return self._resolved

    @property
    def namespace(self) -> str:
        explicit = getattr(self.args, "namespace", None)
        return explicit or self._default_namespace or self.resolved().namespace

    @property
    def explicit_namespace(self) -> bool:
        return bool(getattr(self.args, "namespace", None))

    @property
    def all_namespaces(self) -> bool:
        return bool(getattr(self.args, "all_namespaces", False))

    def list_namespace(self) -> str | None:
        """The namespace to list in: None across all of them with ``-A``."""
        return None if self.all_namespaces else self.namespace

    @property
    def timeout(self) -> float:
        raw = getattr(self.args, "request_timeout", None) or "0"
        seconds = parse_duration(raw)
        return seconds if seconds > 0 else 60.0

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            from machinery.client import ApiClient

            resolved = self.resolved()
            self._client = ApiClient(resolved.server, token=resolved.token,
                                     ssl_context=resolved.ssl_context(),
                                     namespace=self.namespace, timeout=self.timeout,
                                     user_agent="k8py/v1.32.4", max_retries=3)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- output --------------------------------------------------------------

    def print(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def warn(self, text: str) -> None:
        print(text, file=self.stderr)


# -- resource arguments ------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One resource type and the names asked for (none: every object, or a selection)."""

    resource: Resource
    names: tuple[str, ...] = ()


def resolve_type(name: str) -> Resource:
    """What the user typed as a type (``po``, ``deployments.apps``, ``Service``)."""
    found = lookup(name) if name else None
    if found is None:
        raise CliError(f'the server doesn\'t have a resource type "{name}"')
    return found


def expand_types(spec: str) -> list[Resource]:
    """``deploy,svc`` or ``all`` to resources, without duplicates, in the order given."""
    out: list[Resource] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        group = [r for r in RESOURCES if "all" in r.categories] if part == "all" \
            else [resolve_type(part)]
        for resource in group:
            if resource not in out:
                out.append(resource)
    if not out:
        raise CliError(f'the server doesn\'t have a resource type "{spec}"')
    return out


def parse_targets(args: list[str]) -> list[Target]:
    """kubectl's two argument forms: ``TYPE[,TYPE] [NAME...]`` and ``TYPE/NAME...``."""
    if not args:
        return []
    if any("/" in arg for arg in args):
        if "/" not in args[0]:
            raise CliError(
                "there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. 'k8py get resource/<resource_name>' "
                "instead of 'k8py get resource resource/<resource_name>'")
        targets: list[Target] = []
        for arg in args:
            kind, _, name = arg.partition("/")
            if "/" not in arg or not kind or not name:
                raise CliError(f"arguments in resource/name form must have a single resource "
                               f"and name; \"{arg}\" is not")
            resource = resolve_type(kind)
            # Merge consecutive names of one type into one target, keeping order.
            if targets and targets[-1].resource == resource:
                targets[-1] = Target(resource, targets[-1].names + (name,))
            else:
                targets.append(Target(resource, (name,)))
        return targets
    names = tuple(args[1:])
    return [Target(resource, names) for resource in expand_types(args[0])]


def type_name(resource: Resource) -> str:
    """``deployment.apps``: the prefix kubectl prints before an object's name."""
    singular = resource.kind.lower()
    return f"{singular}.{resource.group}" if resource.group else singular
