"""What ``logs``, ``exec`` and ``port-forward`` share: which pod, which container, which server.

Each takes ``POD`` or ``TYPE/NAME``. For a workload or a Service the pod is
picked from its selector the way kubectl's ``AttachablePodForObject`` does
(assigned, running, ready, longest ready, fewest restarts, oldest first;
``logs`` prefers the most restarted, as kubectl's ``ByLogging`` does), and a
pod with several containers defaults to the ``kubectl.kubernetes.io/default-
container`` annotation or its first container, saying so on stderr.

The streams themselves go straight to the API server's URL rather than
through ``ApiClient`` (WebSockets for exec and port-forward, a long chunked
response for ``logs -f``), so the connection settings are resolved here once.
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from cli.context import Context, resolve_type
from cli.errors import CliError
from machinery.meta import get_condition, parse_time, pod_is_ready
from machinery.selectors import label_selector_from_dict, label_selector_from_set

__all__ = ["Selection", "select_pod", "pick_pod", "pod_sort_key", "default_container",
           "container_names", "Connection", "connection", "pod_path", "parse_resource_arg"]

Obj = dict[str, Any]

_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
_PHASE_RANK = {"Running": 0, "Unknown": 1, "Pending": 2}
_NEVER = datetime.max.replace(tzinfo=timezone.utc)  # a missing time sorts last


@dataclass
class Selection:
    """The pod to talk to, and the object the user named (the pod itself, or e.g. a Service)."""

    pod: Obj
    named: Obj
    kind: str

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])


def parse_resource_arg(arg: str) -> tuple[str, str]:
    """``web`` is a pod; ``deploy/web`` names a type; returns (resource plural, name)."""
    kind, slash, name = arg.partition("/")
    if not slash:
        return "pods", arg
    if not kind or not name:
        raise CliError(f'arguments in resource/name form must have a single resource and name; '
                       f'"{arg}" is not')
    return resolve_type(kind).plural, name


def _time(value: Any) -> datetime:
    try:
        return parse_time(str(value)) if value else _NEVER
    except ValueError:
        return _NEVER


def _restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def pod_sort_key(pod: Obj, *, for_logs: bool = False) -> tuple[Any, ...]:
    """Smallest first is best: kubectl's ``ActivePods`` reversed, or ``ByLogging``."""
    status = pod.get("status") or {}
    ready = pod_is_ready(pod)
    ready_since = _time((get_condition(status.get("conditions"), "Ready") or {})
                        .get("lastTransitionTime")) if ready else _NEVER
    restarts = _restarts(pod)
    return (
        not (pod.get("spec") or {}).get("nodeName"),
        _PHASE_RANK.get(str(status.get("phase")), 3),
        not ready,
        ready_since,
        -restarts if for_logs else restarts,
        _time((pod.get("metadata") or {}).get("creationTimestamp")),
    )


def pick_pod(pods: list[Obj], *, for_logs: bool = False) -> Obj | None:
    candidates = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")] or pods
    if not candidates:
        return None
    return min(candidates, key=lambda p: pod_sort_key(p, for_logs=for_logs))


def _selector_of(plural: str, obj: Obj) -> str:
    spec = obj.get("spec") or {}
    if plural in ("services", "replicationcontrollers"):
        if not spec.get("selector"):
            raise CliError(f"cannot attach to {plural[:-1]}/{obj['metadata']['name']}: "
                           "it has no selector")
        return str(label_selector_from_set(spec.get("selector")))
    if "selector" not in spec:
        raise CliError(f"cannot attach to {plural}/{obj['metadata']['name']}: it selects no pods")
    return str(label_selector_from_dict(spec.get("selector")))


async def select_pod(ctx: Context, arg: str, *, for_logs: bool = False,
                     announce: Callable[[str], None] | None = None) -> Selection:
    """The pod behind ``arg``; ``announce`` hears kubectl's "Found N pods, using pod/x"."""
    plural, name = parse_resource_arg(arg)
    obj = await ctx.client.get(plural, name, ctx.namespace)
    if plural == "pods":
        return Selection(obj, obj, "pods")
    selector = _selector_of(plural, obj)
    listed = await ctx.client.list("pods", ctx.namespace, label_selector=selector)
    pods = list(listed.get("items") or [])
    pod = pick_pod(pods, for_logs=for_logs)
    if pod is None:
        raise CliError(f"no pods found for {arg} (selector {selector})")
    if len(pods) > 1 and announce is not None:
        announce(f"Found {len(pods)} pods, using pod/{pod['metadata']['name']}")
    return Selection(pod, obj, plural)


def container_names(pod: Obj) -> list[str]:
    """Init containers first, as ``--all-containers`` shows them, then the app containers."""
    spec = pod.get("spec") or {}
    return [str(c["name"]) for key in ("initContainers", "containers")
            for c in spec.get(key) or []]


def default_container(pod: Obj, announce: Callable[[str], None] | None = None) -> str:
    """kubectl's choice when ``-c`` is not given, announced when there was a choice."""
    spec = pod.get("spec") or {}
    containers = [str(c["name"]) for c in spec.get("containers") or []]
    if not containers:
        raise CliError(f"pod {pod['metadata']['name']} has no containers")
    annotated = ((pod.get("metadata") or {}).get("annotations") or {}).get(_DEFAULT_CONTAINER)
    if annotated in containers:
        return str(annotated)
    init = [f"{c['name']} (init)" for c in spec.get("initContainers") or []]
    if (len(containers) > 1 or init) and announce is not None:
        announce(f'Defaulted container "{containers[0]}" out of: {", ".join(containers + init)}')
    return containers[0]


def pod_path(namespace: str, pod: str, subresource: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/{subresource}"


@dataclass(frozen=True)
class Connection:
    """The API server's URL and credentials for a stream that bypasses ``ApiClient``."""

    server: str
    headers: dict[str, str]
    ssl: ssl_module.SSLContext | None

    def url(self, path: str) -> str:
        return self.server + path


def connection(ctx: Context) -> Connection:
    resolved = ctx.resolved()
    headers = {"User-Agent": "k8py/v1.32.4"}
    if resolved.token:
        headers["Authorization"] = f"Bearer {resolved.token}"
    return Connection(resolved.server.rstrip("/"), headers, resolved.ssl_context())
