"""The ``metrics.k8s.io/v1beta1`` group (what ``kubectl top`` reads), served in-process.

In Kubernetes, metrics-server scrapes every kubelet's ``/stats/summary`` and
the aggregator proxies this group to it. Here the API server answers the group
itself, scraping on each request: the kubelets keep their summaries cached
(``kubelet.stats``), so a request costs one small HTTP call per Ready node,
made concurrently with a short timeout; a node that does not answer in time
is left out, as metrics-server leaves out nodes it failed to scrape.

Nothing here is stored: NodeMetrics and PodMetrics exist only as responses,
so these resources stay out of ``machinery.resources.RESOURCES`` (which
drives storage and watch caches) and are listed for discovery as
``RESOURCES`` of this module. Metadata (labels for ``labelSelector``) comes
from the Node and Pod watch caches; a summary entry whose pod is unknown or
has another uid (deleted and re-created) is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from machinery import errors
from machinery.meta import format_time
from machinery.quantity import BINARY_SI, format_quantity, parse_quantity
from machinery.resources import Resource, by_plural
from machinery.selectors import parse_field_selector, parse_label_selector

from .fields import make_predicate
from .wire import TABLE_CONTENT_TYPE, json_response, query_bool, wants_table

if TYPE_CHECKING:
    from .server import ApiServer

__all__ = [
    "GROUP", "VERSION", "NODE_METRICS", "POD_METRICS", "RESOURCES", "WINDOW", "MetricsApi",
    "format_cpu", "format_memory", "kubelet_url", "node_ready", "node_metrics", "pod_metrics",
    "metrics_list", "metrics_table",
]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
NODE_METRICS = Resource(GROUP, VERSION, "NodeMetrics", "nodes", False, verbs=("get", "list"))
POD_METRICS = Resource(GROUP, VERSION, "PodMetrics", "pods", True, verbs=("get", "list"))
RESOURCES: tuple[Resource, ...] = (NODE_METRICS, POD_METRICS)
# The kubelets' sampling interval, over which their CPU rates are taken.
WINDOW = "10s"
SCRAPE_TIMEOUT = 5.0

Obj = dict[str, Any]
log = logging.getLogger("apiserver.metrics")


# -- building objects ---------------------------------------------------------------------


def format_cpu(nanocores: int) -> str:
    """Cores as metrics-server spells them: ``123m`` when whole millicores, else ``1234567n``."""
    return format_quantity(Decimal(max(int(nanocores), 0)).scaleb(-9))


def format_memory(size: int) -> str:
    """Bytes in binary SI: ``12Mi``, ``1234Ki``, or plain bytes when not a whole KiB."""
    return format_quantity(max(int(size), 0), BINARY_SI)


def _usage(stats: Obj) -> dict[str, str]:
    return {"cpu": format_cpu((stats.get("cpu") or {}).get("usageNanoCores") or 0),
            "memory": format_memory((stats.get("memory") or {}).get("workingSetBytes") or 0)}


def _metadata(obj: Obj, now: str) -> Obj:
    meta = obj.get("metadata") or {}
    out: Obj = {"name": meta.get("name")}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    out["creationTimestamp"] = now
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def node_metrics(node: Obj, summary: Obj, now: str) -> Obj:
    """A NodeMetrics for ``node`` from its kubelet's summary."""
    stats = summary.get("node") or {}
    return {"kind": NODE_METRICS.kind, "apiVersion": NODE_METRICS.api_version,
            "metadata": _metadata(node, now),
            "timestamp": (stats.get("cpu") or {}).get("time") or now,
            "window": WINDOW, "usage": _usage(stats)}


def pod_metrics(pod: Obj, entry: Obj, now: str) -> Obj:
    """A PodMetrics for ``pod`` from its entry in a summary's ``pods``."""
    containers = entry.get("containers") or []
    times = [str((c.get("cpu") or {}).get("time")) for c in containers
             if (c.get("cpu") or {}).get("time")]
    return {"kind": POD_METRICS.kind, "apiVersion": POD_METRICS.api_version,
            "metadata": _metadata(pod, now), "timestamp": max(times, default=now),
            "window": WINDOW,
            "containers": [{"name": c.get("name"), "usage": _usage(c)} for c in containers]}


def metrics_list(resource: Resource, items: list[Obj]) -> Obj:
    """The list kind; items lose kind and apiVersion, as in every Kubernetes list."""
    stripped = [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
                for item in items]
    return {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": {},
            "items": stripped}


def _summed(containers: list[Obj]) -> dict[str, str]:
    """A pod's usage: its containers' added up, spelled as each resource is."""
    cpu = sum((parse_quantity((c.get("usage") or {}).get("cpu") or "0") for c in containers),
              start=Decimal(0))
    memory = sum((parse_quantity((c.get("usage") or {}).get("memory") or "0")
                  for c in containers), start=Decimal(0))
    return {"cpu": format_quantity(cpu), "memory": format_quantity(memory, BINARY_SI)}


_TABLE_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource",
     "priority": 0},
    {"name": "cpu", "type": "string", "format": "quantity", "description": "", "priority": 0},
    {"name": "memory", "type": "string", "format": "quantity", "description": "", "priority": 0},
    {"name": "Window", "type": "string", "format": "", "description": "", "priority": 0},
]


def metrics_table(items: list[Obj]) -> Obj:
    """The Table metrics-server answers ``kubectl get nodemetrics|podmetrics`` with:
    name, usage per resource (a pod's summed over its containers), window."""
    rows = []
    for item in items:
        usage = item.get("usage") or _summed(item.get("containers") or [])
        rows.append({"cells": [item["metadata"]["name"], usage.get("cpu", "0"),
                               usage.get("memory", "0"), item.get("window", WINDOW)],
                     "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                "metadata": item["metadata"]}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": _TABLE_COLUMNS, "rows": rows}


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def kubelet_url(node: Obj) -> str | None:
    """``http://InternalIP:port`` of the node's kubelet server, if the node reports one."""
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    address = next((a.get("address") for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"), None)
    if not port or not address:
        return None
    host = f"[{address}]" if ":" in str(address) else address
    return f"http://{host}:{port}"


# -- serving --------------------------------------------------------------------------------


class MetricsApi:
    """The HTTP face of the group: path parsing, scraping, Status errors."""

    def __init__(self, server: "ApiServer") -> None:
        self.server = server
        nodes, pods = by_plural("", "v1", "nodes"), by_plural("", "v1", "pods")
        assert nodes is not None and pods is not None
        self.nodes, self.pods = nodes, pods

    async def handle(self, request: Request) -> Response:
        parts = [p for p in request.path_params["rest"].split("/")]
        namespace: str | None = None
        if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] == "pods":
            namespace, parts = parts[1], parts[2:]
        if not parts or parts[0] not in ("nodes", "pods") or len(parts) > 2 or "" in parts \
                or (namespace is None and parts[0] == "pods" and len(parts) == 2) \
                or (namespace is not None and parts[0] != "pods"):
            raise errors.NotFound("the server could not find the requested resource")
        if request.method != "GET" or query_bool(request, "watch"):
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        name = parts[1] if len(parts) == 2 else None
        if parts[0] == "nodes":
            body = await self._nodes(request, name)
        else:
            body = await self._pods(request, namespace, name)
        if wants_table(request):
            return json_response(metrics_table(body.get("items", [body])),
                                 content_type=TABLE_CONTENT_TYPE)
        return json_response(body)

    async def _cached(self, resource: Resource, request: Request | None,
                      namespace: str | None) -> list[Obj]:
        cache = self.server.cache(resource)
        await cache.wait_ready()
        predicate = make_predicate(
            resource, namespace,
            parse_label_selector(request.query_params.get("labelSelector")) if request else None,
            parse_field_selector(request.query_params.get("fieldSelector")) if request else None)
        return cache.list(predicate)[0]

    async def _nodes(self, request: Request, name: str | None) -> Obj:
        if name is not None:
            node = await self._one(self.nodes, name, name)
            summaries = await self.scrape([node])
            if name not in summaries:
                raise _no_metrics("nodemetrics", name)
            return node_metrics(node, summaries[name], _now())
        nodes = await self._cached(self.nodes, request, None)
        summaries = await self.scrape(nodes)
        now = _now()
        items = [node_metrics(n, summaries[n["metadata"]["name"]], now) for n in nodes
                 if n["metadata"]["name"] in summaries]
        return metrics_list(NODE_METRICS, items)

    async def _pods(self, request: Request, namespace: str | None, name: str | None) -> Obj:
        if name is not None:
            assert namespace is not None
            pods = [await self._one(self.pods, f"{namespace}/{name}", name)]
        else:
            pods = await self._cached(self.pods, request, namespace)
        hosts = {(p.get("spec") or {}).get("nodeName") for p in pods}
        nodes = [n for n in await self._cached(self.nodes, None, None)
                 if n["metadata"]["name"] in hosts]
        entries: dict[tuple[str, str], Obj] = {}
        for summary in (await self.scrape(nodes)).values():
            for entry in summary.get("pods") or []:
                ref = entry.get("podRef") or {}
                entries[(str(ref.get("namespace")), str(ref.get("name")))] = entry
        now = _now()
        items = []
        for pod in pods:
            meta = pod["metadata"]
            entry = entries.get((meta["namespace"], meta["name"]))
            if entry and entry.get("containers") and \
                    (entry.get("podRef") or {}).get("uid") == meta.get("uid"):
                items.append(pod_metrics(pod, entry, now))
        if name is not None:
            if not items:
                raise _no_metrics("podmetrics", name)
            return items[0]
        return metrics_list(POD_METRICS, items)

    async def _one(self, resource: Resource, key: str, name: str) -> Obj:
        cache = self.server.cache(resource)
        await cache.wait_ready()
        obj = cache.get(key)
        if obj is None:
            raise self.server.registry.not_found(resource, name)
        return obj

    async def scrape(self, nodes: list[Obj]) -> dict[str, Obj]:
        """Node name -> summary for each Ready node whose kubelet answered in time."""
        targets = [(n["metadata"]["name"], url) for n in nodes
                   if node_ready(n) and (url := kubelet_url(n)) is not None]
        results = await asyncio.gather(*(self._summary(url) for _, url in targets),
                                       return_exceptions=True)
        found: dict[str, Obj] = {}
        for (node, _), result in zip(targets, results):
            if isinstance(result, dict):
                found[node] = result
            else:
                log.info("no stats from node %s: %s", node, result)
        return found

    async def _summary(self, base: str) -> Obj:
        async with asyncio.timeout(SCRAPE_TIMEOUT):
            response = await self.server.proxy.http_client.get(f"{base}/stats/summary",
                                                               timeout=SCRAPE_TIMEOUT)
        if response.status_code != 200:
            raise httpx.HTTPStatusError(f"status {response.status_code}", request=response.request,
                                        response=response)
        summary = response.json()
        if not isinstance(summary, dict):
            raise ValueError("summary is not an object")
        return summary


def _no_metrics(kind: str, name: str) -> errors.NotFound:
    return errors.NotFound(f'{kind}.{GROUP} "{name}" not found', name=name, group=GROUP,
                           kind=kind)


def _now() -> str:
    return format_time(datetime.now(timezone.utc))
