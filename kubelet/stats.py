"""The kubelet's Summary API (``/stats/summary``), fed by a background sampler.

``metrics-server`` (here: the API server's ``metrics.k8s.io`` group) reads
``cpu.usageNanoCores`` and ``memory.workingSetBytes`` of the node, of each pod
and of each container from this document. Docker's stats endpoint is slow
when asked for a rate (it waits a second for a second reading), so no request
samples Docker itself: a ``StatsSampler`` task reads every running container
of this node every ``interval`` seconds with ``one-shot`` stats (one cheap
reading each) and takes CPU rates from its own consecutive readings, so the
window is the sampling interval. A container seen for the first time is read
twice, ``prime`` seconds apart, so its first figures are rates too. The
sampler starts with the first request and stops after ``idle`` seconds
without one: a node nobody asks about pays nothing.

The working set is memory usage minus inactive file pages, as cAdvisor counts
it. Node figures: in process and compose mode every node shares one machine,
so host-wide numbers would charge each node with every other node's pods.
The node's usage is therefore the sum over its own pods' containers plus the
kubelet process itself (reported also as the ``kubelet`` system container);
kube-proxy, a separate process, is not counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from kubelet.runtime import (
    KIND_SANDBOX, LABEL_CONTAINER, LABEL_KIND, LABEL_NAMESPACE, LABEL_POD, LABEL_POD_UID,
    DockerError, DockerRuntime,
)
from kubelet.streams import DockerEndpoint
from machinery import errors
from machinery.meta import format_time, parse_time

__all__ = ["StatsSampler", "container_usage", "cpu_total", "process_usage"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)


def container_usage(stats: Obj) -> tuple[int, int]:
    """(nanocores, working-set bytes) from one Docker stats document.

    The rate comes from Docker's own two readings (``precpu_stats``); a
    one-shot document has none, and its rate is 0.
    """
    cpu = cpu_total(stats)
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


def cpu_total(stats: Obj) -> int:
    """Cumulative CPU time of the container in nanoseconds."""
    return int(((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)


def process_usage() -> tuple[float, int]:
    """(CPU seconds so far, resident bytes) of this process, every thread counted."""
    resident = 0
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        pass
    return time.process_time(), resident


@dataclass(frozen=True, slots=True)
class _Reading:
    """One container's cumulative CPU at a moment, for the next rate."""

    cpu: int
    at: datetime


def _rate(before: _Reading | None, after: _Reading) -> int | None:
    if before is None or after.at <= before.at or after.cpu < before.cpu:
        return None
    return int((after.cpu - before.cpu) / (after.at - before.at).total_seconds())


def _started(row: Obj) -> str | None:
    created = row.get("Created")
    if not isinstance(created, int | float) or created <= 0:
        return None
    return format_time(datetime.fromtimestamp(created, timezone.utc))


class StatsSampler:
    """Caches this node's Summary, refreshed every ``interval`` s while it is being read."""

    def __init__(self, runtime: DockerRuntime, http: Callable[[], httpx.AsyncClient],
                 endpoint: DockerEndpoint, *, interval: float = 10.0, prime: float = 1.0,
                 idle: float = 300.0, concurrency: int = 8,
                 process: Callable[[], tuple[float, int]] = process_usage) -> None:
        self.runtime = runtime
        self.http = http
        self.endpoint = endpoint
        self.interval = interval
        self.prime = prime
        self.idle = idle
        self.process = process
        self._limit = asyncio.Semaphore(concurrency)
        self._readings: dict[str, _Reading] = {}
        self._summary: Obj | None = None
        self._error: str = ""
        self._task: asyncio.Task[None] | None = None
        self._rounds = 0               # rounds finished, successful or not
        self._in_round = False
        self._finished = asyncio.Condition()
        self._wake = asyncio.Event()
        self._last_read = 0.0
        self._process: tuple[float, float] | None = None
        self._start_time = format_time(datetime.now(timezone.utc))

    # -- readers ---------------------------------------------------------------------------

    async def summary(self, *, fresh: bool = False) -> Obj:
        """The latest Summary; the first call (or ``fresh``) waits for a round to finish."""
        loop = asyncio.get_running_loop()
        self._last_read = loop.time()
        # A fresh summary needs a round that starts from now, not one already under way.
        wanted = self._rounds + (2 if fresh and self._in_round else 1)
        if self._task is None or self._task.done():
            self._readings.clear()
            self._summary = None
            self._task = asyncio.create_task(self._run(), name="stats-sampler")
        elif fresh:
            self._wake.set()
        if self._summary is None or fresh:
            async with self._finished:
                await self._finished.wait_for(lambda: self._rounds >= wanted)
        if self._summary is None:
            raise errors.ServiceUnavailable(f"no stats sampled yet: {self._error}")
        return self._summary

    async def pod(self, uid: str) -> Obj | None:
        """One pod's entry; a pod missing from the cache (just started) gets a round now."""
        for fresh in (False, True):
            for entry in (await self.summary(fresh=fresh)).get("pods") or []:
                if entry["podRef"]["uid"] == uid:
                    return dict(entry)
        return None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- sampling --------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._process is None:  # so the first round has a rate for the kubelet too
            self._process = (self.process()[0], time.monotonic())
        while True:
            started = loop.time()
            self._in_round = True
            try:
                self._summary = await self._round()
                self._error = ""
            except Exception as exc:  # noqa: BLE001 - the sampler outlives any one bad round
                self._error = str(exc) or type(exc).__name__
                level = logging.WARNING if isinstance(exc, DockerError | httpx.HTTPError
                                                      | OSError) else logging.ERROR
                log.log(level, "sampling container stats failed: %s", self._error,
                        exc_info=level == logging.ERROR)
            finally:
                self._in_round = False
            async with self._finished:
                self._rounds += 1
                self._finished.notify_all()
            if loop.time() - self._last_read > self.idle:
                return
            self._wake.clear()
            remaining = max(self.interval - (loop.time() - started), 0.0)
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                pass

    async def _read(self, container_id: str) -> Obj | None:
        async with self._limit:
            response = await self.http().get(
                f"{self.endpoint.prefix}/containers/{container_id}/stats",
                params={"stream": "0", "one-shot": "1"}, timeout=10.0)
        if response.status_code in (404, 409):  # gone, or not running any more
            return None
        response.raise_for_status()
        stats: Obj = response.json()
        # A container that stopped meanwhile is answered with Go's zero time and no usage.
        read = str(stats.get("read") or "")
        return stats if read and not read.startswith("0001-") else None

    async def _read_all(self, ids: list[str]) -> dict[str, Obj]:
        results = await asyncio.gather(*(self._read(i) for i in ids), return_exceptions=True)
        found: dict[str, Obj] = {}
        for container_id, result in zip(ids, results):
            if isinstance(result, dict):
                found[container_id] = result
            elif isinstance(result, BaseException):
                log.debug("stats of container %s: %s", container_id[:12], result)
        return found

    async def _round(self) -> Obj:
        rows = [r for r in await self.runtime.list_summaries()
                if r.get("State") == "running"
                and (r.get("Labels") or {}).get(LABEL_KIND) != KIND_SANDBOX]
        docs = await self._read_all([str(r["Id"]) for r in rows])
        before = {i: self._readings.get(i) for i in docs}
        new = [i for i, reading in before.items() if reading is None]
        if new:
            await asyncio.sleep(self.prime)
            for container_id, doc in (await self._read_all(new)).items():
                before[container_id] = _reading(docs[container_id])
                docs[container_id] = doc
        self._readings = {i: _reading(doc) for i, doc in docs.items()}
        pods: dict[str, Obj] = {}
        for row in rows:
            container_id = str(row["Id"])
            if container_id not in docs:
                continue
            labels = row.get("Labels") or {}
            uid = labels.get(LABEL_POD_UID, "")
            entry = pods.setdefault(uid, {
                "podRef": {"name": labels.get(LABEL_POD, ""),
                           "namespace": labels.get(LABEL_NAMESPACE, ""), "uid": uid},
                "containers": []})
            entry["containers"].append(self._container(labels.get(LABEL_CONTAINER, ""),
                                                       _started(row), docs[container_id],
                                                       before[container_id]))
        return self._document(list(pods.values()))

    def _container(self, name: str, started: str | None, doc: Obj,
                   before: _Reading | None) -> Obj:
        after = _reading(doc)
        docker_rate, working_set = container_usage(doc)
        rate = _rate(before, after)
        at = format_time(after.at)
        entry: Obj = {"name": name,
                      "cpu": {"time": at, "usageNanoCores": docker_rate if rate is None else rate,
                              "usageCoreNanoSeconds": after.cpu},
                      "memory": {"time": at, "workingSetBytes": working_set,
                                 "usageBytes": int((doc.get("memory_stats") or {}).get("usage")
                                                   or 0)}}
        if started:
            entry["startTime"] = started
        return entry

    def _kubelet(self, at: str) -> Obj:
        """The kubelet process as a system container: CPU rate since the previous round."""
        cpu_seconds, resident = self.process()
        now = time.monotonic()
        previous, self._process = self._process, (cpu_seconds, now)
        nanocores = 0
        if previous is not None and now > previous[1]:
            nanocores = max(int((cpu_seconds - previous[0]) / (now - previous[1]) * 1e9), 0)
        return {"name": "kubelet", "startTime": self._start_time,
                "cpu": {"time": at, "usageNanoCores": nanocores,
                        "usageCoreNanoSeconds": int(cpu_seconds * 1e9)},
                "memory": {"time": at, "workingSetBytes": resident}}

    def _document(self, pods: list[Obj]) -> Obj:
        at = format_time(datetime.now(timezone.utc))
        for entry in pods:
            entry["containers"].sort(key=lambda c: c["name"])
            entry["cpu"] = {"time": at, "usageNanoCores": sum(
                c["cpu"]["usageNanoCores"] for c in entry["containers"])}
            entry["memory"] = {"time": at, "workingSetBytes": sum(
                c["memory"]["workingSetBytes"] for c in entry["containers"])}
        kubelet = self._kubelet(at)
        node = {"nodeName": self.runtime.node, "startTime": self._start_time,
                "systemContainers": [kubelet],
                "cpu": {"time": at, "usageNanoCores": kubelet["cpu"]["usageNanoCores"] + sum(
                    p["cpu"]["usageNanoCores"] for p in pods)},
                "memory": {"time": at, "workingSetBytes": kubelet["memory"]["workingSetBytes"]
                           + sum(p["memory"]["workingSetBytes"] for p in pods)}}
        pods.sort(key=lambda p: (p["podRef"]["namespace"], p["podRef"]["name"]))
        return {"node": node, "pods": pods}


def _reading(stats: Obj) -> _Reading:
    return _Reading(cpu_total(stats), parse_time(str(stats["read"])))
