"""Per-container CPU and memory of a pod, in the kubelet Summary API's terms.

``GET /stats/<ns>/<pod>`` answers with the fields ``metrics-server`` reads from
``/stats/summary``: ``cpu.usageNanoCores`` and ``memory.workingSetBytes`` for
each running container. Docker's one-off stats already hold two samples a
second apart (``cpu_stats`` and ``precpu_stats``), so the rate needs no state
here; the working set is usage minus inactive file pages, as cAdvisor counts it.
The request goes over the asyncio Docker client, not the SDK's thread pool,
since each takes about a second.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kubelet.runtime import KIND_SANDBOX, ContainerInfo, DockerRuntime
from kubelet.streams import DockerEndpoint
from machinery.meta import parse_time

__all__ = ["pod_stats", "container_usage"]

Obj = dict[str, Any]


def container_usage(stats: Obj) -> tuple[int, int]:
    """(nanocores, working-set bytes) from one Docker stats document."""
    cpu = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0
    before = ((stats.get("precpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0
    nanocores = 0
    if stats.get("read") and stats.get("preread") and not str(stats["preread"]).startswith("0001"):
        elapsed = (parse_time(stats["read"]) - parse_time(stats["preread"])).total_seconds()
        if elapsed > 0 and cpu >= before:
            nanocores = int((cpu - before) / elapsed)
    memory = stats.get("memory_stats") or {}
    counters = memory.get("stats") or {}
    # cgroup v1 names it total_inactive_file, v2 inactive_file.
    inactive = counters.get("total_inactive_file", counters.get("inactive_file", 0)) or 0
    usage = int(memory.get("usage") or 0)
    return nanocores, max(usage - int(inactive), 0)


async def _one(client: httpx.AsyncClient, endpoint: DockerEndpoint, info: ContainerInfo) -> Obj:
    response = await client.get(f"{endpoint.prefix}/containers/{info.id}/stats",
                                params={"stream": "0"}, timeout=10.0)
    response.raise_for_status()
    stats = response.json()
    nanocores, working_set = container_usage(stats)
    return {"name": info.container_name, "startTime": info.started_at,
            "cpu": {"time": stats.get("read"), "usageNanoCores": nanocores},
            "memory": {"time": stats.get("read"), "workingSetBytes": working_set}}


async def pod_stats(runtime: DockerRuntime, client: httpx.AsyncClient, endpoint: DockerEndpoint,
                    pod: Obj, uid: str) -> Obj:
    """The pod's entry of a Summary: its running containers' usage and the totals."""
    running = [c for c in await runtime.pod_containers(uid)
               if c.kind != KIND_SANDBOX and c.running]
    results = await asyncio.gather(*(_one(client, endpoint, c) for c in running),
                                   return_exceptions=True)
    containers = [r for r in results if isinstance(r, dict)]
    meta = pod.get("metadata") or {}
    return {
        "podRef": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": uid},
        "containers": containers,
        "cpu": {"usageNanoCores": sum(c["cpu"]["usageNanoCores"] for c in containers)},
        "memory": {"workingSetBytes": sum(c["memory"]["workingSetBytes"] for c in containers)},
    }
