"""The Summary sampler over a scripted Docker: rates from its own readings, node totals, caching.

Docker answers through ``httpx.MockTransport`` with one-shot stats documents
whose cumulative CPU and read times the test scripts, so every figure in the
Summary is computed from known numbers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kubelet.runtime import (
    KIND_APP, KIND_SANDBOX, LABEL_CONTAINER, LABEL_KIND, LABEL_NAMESPACE, LABEL_POD,
    LABEL_POD_UID,
)
from kubelet.stats import StatsSampler, container_usage, cpu_total
from kubelet.streams import DockerEndpoint

Obj = dict[str, Any]


def row(cid: str, pod: str, container: str, *, kind: str = KIND_APP,
        state: str = "running") -> Obj:
    return {"Id": cid, "State": state, "Created": 1_735_689_600,
            "Labels": {LABEL_POD_UID: f"uid-{pod}", LABEL_POD: pod, LABEL_NAMESPACE: "default",
                       LABEL_CONTAINER: container, LABEL_KIND: kind}}


class Runtime:
    node = "n1"

    def __init__(self, rows: list[Obj]) -> None:
        self.rows = rows

    async def list_summaries(self) -> list[Obj]:
        return self.rows


class Docker:
    """One-shot stats: each read of a container returns its next scripted (cpu ns, second)."""

    def __init__(self, script: dict[str, list[tuple[int, int]]], memory: int = 8 << 20) -> None:
        self.script = script
        self.memory = memory
        self.calls: list[tuple[str, dict[str, str]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        cid = request.url.path.split("/")[3]
        self.calls.append((cid, dict(request.url.params)))
        if cid not in self.script:
            return httpx.Response(404, json={"message": "no such container"})
        cpu, second = self.script[cid].pop(0) if len(self.script[cid]) > 1 else self.script[cid][0]
        return httpx.Response(200, json={
            "read": f"2025-01-01T00:00:{second:02d}.000000000Z",
            "preread": "0001-01-01T00:00:00Z",
            "cpu_stats": {"cpu_usage": {"total_usage": cpu}},
            "memory_stats": {"usage": self.memory + 4096, "stats": {"inactive_file": 4096}}})


def sampler(runtime: Runtime, docker: Docker, **kwargs: Any) -> StatsSampler:
    http = httpx.AsyncClient(base_url="http://docker", transport=httpx.MockTransport(docker.handle))
    return StatsSampler(runtime, lambda: http, DockerEndpoint("unix:///x.sock", "1.41"),  # type: ignore[arg-type]
                        prime=0.0, process=lambda: (2.0, 1 << 20), **kwargs)


def test_container_usage_and_cpu_total() -> None:
    stats = {"read": "2025-01-01T00:00:01.5Z", "preread": "2025-01-01T00:00:00.5Z",
             "cpu_stats": {"cpu_usage": {"total_usage": 350_000_000}},
             "precpu_stats": {"cpu_usage": {"total_usage": 100_000_000}},
             "memory_stats": {"usage": 10_000, "stats": {"total_inactive_file": 4_000}}}
    assert container_usage(stats) == (250_000_000, 6_000)
    assert cpu_total(stats) == 350_000_000 and cpu_total({}) == 0


async def test_first_round_primes_new_containers_and_sums_pods_and_node() -> None:
    runtime = Runtime([row("a1", "web", "app"), row("a2", "web", "side"),
                       row("s1", "web", "", kind=KIND_SANDBOX), row("b1", "db", "db"),
                       row("x1", "old", "gone", state="exited")])
    # a1 uses half a core, a2 a tenth, b1 a full core over the priming interval.
    docker = Docker({"a1": [(1_000_000_000, 1), (1_500_000_000, 2)],
                     "a2": [(0, 1), (100_000_000, 2)],
                     "b1": [(5_000_000_000, 1), (7_000_000_000, 3)]})
    stats = sampler(runtime, docker)
    try:
        summary = await stats.summary()
    finally:
        await stats.close()
    assert {c for c, _ in docker.calls} == {"a1", "a2", "b1"}  # no sandbox, nothing exited
    assert all(params == {"stream": "0", "one-shot": "1"} for _, params in docker.calls)
    db, web = summary["pods"]
    assert web["podRef"] == {"name": "web", "namespace": "default", "uid": "uid-web"}
    assert [(c["name"], c["cpu"]["usageNanoCores"]) for c in web["containers"]] == [
        ("app", 500_000_000), ("side", 100_000_000)]
    assert web["containers"][0]["memory"]["workingSetBytes"] == 8 << 20
    assert web["containers"][0]["startTime"] == "2025-01-01T00:00:00Z"
    assert web["cpu"]["usageNanoCores"] == 600_000_000
    assert web["memory"]["workingSetBytes"] == 16 << 20
    assert db["cpu"]["usageNanoCores"] == 1_000_000_000
    node = summary["node"]
    assert node["nodeName"] == "n1"
    [kubelet] = node["systemContainers"]
    assert kubelet["name"] == "kubelet" and kubelet["memory"]["workingSetBytes"] == 1 << 20
    assert node["cpu"]["usageNanoCores"] == 1_600_000_000 + kubelet["cpu"]["usageNanoCores"]
    assert node["memory"]["workingSetBytes"] == (24 << 20) + (1 << 20)


async def test_later_rounds_rate_over_the_interval_and_readers_share_the_cache() -> None:
    runtime = Runtime([row("a1", "web", "app")])
    docker = Docker({"a1": [(0, 0), (100_000_000, 1), (2_100_000_000, 11)]})
    stats = sampler(runtime, docker, interval=3600.0)
    try:
        first = await stats.summary()
        assert await stats.summary() is first  # cached: no new reading
        assert len(docker.calls) == 2
        second = await stats.summary(fresh=True)
    finally:
        await stats.close()
    assert first["pods"][0]["cpu"]["usageNanoCores"] == 100_000_000
    # One reading in the new round; the rate spans the ten seconds since the last one.
    assert len(docker.calls) == 3
    assert second["pods"][0]["containers"][0]["cpu"]["usageNanoCores"] == 200_000_000


async def test_pod_lookup_refreshes_once_for_a_pod_not_sampled_yet() -> None:
    runtime = Runtime([row("a1", "web", "app")])
    docker = Docker({"a1": [(0, 0), (10, 1)], "b1": [(0, 0), (20, 1)]})
    stats = sampler(runtime, docker, interval=3600.0)
    try:
        assert (await stats.pod("uid-web") or {})["podRef"]["name"] == "web"
        runtime.rows.append(row("b1", "db", "db"))
        entry = await stats.pod("uid-db")
        assert entry is not None and entry["cpu"]["usageNanoCores"] == 20
        assert await stats.pod("uid-none") is None
    finally:
        await stats.close()


async def test_sampler_stops_when_idle_and_restarts_on_the_next_read() -> None:
    runtime = Runtime([row("a1", "web", "app")])
    docker = Docker({"a1": [(0, 0), (10, 1), (30, 2), (60, 3)]})
    stats = sampler(runtime, docker, interval=0.0, idle=-1.0)
    first = await stats.summary()
    assert stats._task is not None
    await stats._task  # idle at once: the loop ends after its round
    second = await stats.summary()
    await stats.close()
    # A restart forgets old readings and primes again: two reads per start.
    assert len(docker.calls) == 4
    assert first["pods"][0]["cpu"]["usageNanoCores"] == 10
    assert second["pods"][0]["cpu"]["usageNanoCores"] == 30


async def test_docker_failure_is_a_service_unavailable_until_a_round_succeeds() -> None:
    from machinery import errors

    class Broken(Runtime):
        async def list_summaries(self) -> list[Obj]:
            raise OSError("docker.sock: connection refused")

    stats = sampler(Broken([]), Docker({}), interval=3600.0)
    try:
        with pytest.raises(errors.ServiceUnavailable, match="connection refused"):
            await stats.summary()
    finally:
        await stats.close()


async def test_the_kubelets_own_cpu_has_a_rate_from_the_first_round() -> None:
    spent = iter([1.0, 1.25, 1.5])
    stats = sampler(Runtime([]), Docker({}))
    stats.process = lambda: (next(spent), 64 << 20)
    try:
        summary = await stats.summary()
    finally:
        await stats.close()
    [kubelet] = summary["node"]["systemContainers"]
    assert kubelet["cpu"]["usageNanoCores"] > 0
    assert kubelet["cpu"]["usageCoreNanoSeconds"] == 1_250_000_000
    assert summary["node"]["memory"]["workingSetBytes"] == 64 << 20 and summary["pods"] == []


async def test_a_container_that_stopped_before_its_reading_is_left_out() -> None:
    """Docker answers a container that stopped between the listing and the read with Go's
    zero time; that is no reading, not a sample taken in year 1."""

    class Stopping(Docker):
        def handle(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.split("/")[3] == "gone":
                return httpx.Response(200, json={"read": "0001-01-01T00:00:00Z",
                                                 "preread": "0001-01-01T00:00:00Z"})
            return super().handle(request)

    runtime = Runtime([row("a1", "web", "app"), row("gone", "old", "app")])
    stats = sampler(runtime, Stopping({"a1": [(0, 1), (1_000_000_000, 2)]}))
    try:
        summary = await stats.summary()
    finally:
        await stats.close()
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["web"]
