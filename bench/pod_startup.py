"""bench/pod_startup: pod startup latency as Kubernetes' SLO defines it, next to Docker Swarm.

The SLO (sig-scalability ``pod_startup_latency.md``): for stateless pods
whose image is already present, the time from the pod's creation to all of
its containers reported started, *as observed through a watch*.  This run:

1. starts a process cluster (etcd, API server, scheduler, two kubelets);
2. watches the namespace's pods, then creates 50 single-container pods
   (``k8py/hello:1.0``) at 5 pods/s, open loop;
3. takes each pod's latency from the moment its create was sent (the
   machine's clock: ``creationTimestamp`` has only whole seconds) to the
   watch event that first shows every container running;
4. runs the same image as a 50-replica Docker Swarm service and times
   ``docker service create`` to 50 tasks running (swarm on 127.0.0.1,
   joined and left by this script if the engine was not in a swarm; the
   image is used as it is locally, never resolved on a registry).

Prints one line; ``ratio`` is k8py_total / swarm_total (k8py's total
includes the 10 s the paced creates take; Swarm starts all replicas at once):

    pod_startup k8py_p50=..s k8py_p99=..s k8py_total=..s swarm_total=..s ratio=..
        k8py_cpu_per_pod=..s cores=.. load=..

``k8py_cpu_per_pod`` is the CPU time the whole machine spent busy during the
k8py run (engine, kernel, control plane, kubelets), divided by the pods: at
``rate`` pods per second the machine needs ``rate * cpu_per_pod`` cores, and
once that passes ``cores`` the pods queue for CPU whatever the orchestrator.

With ``--docker-floor`` the line goes on with ``docker_p50=..s docker_p99=..s
docker_total=..s docker_cpu_per_pod=..s``: the same pods, paced the same way, as the bare Docker
calls a kubelet needs (``run_docker_floor``), which tells k8py's own cost
from the engine's on a machine whose load varies from run to run.

    python bench/pod_startup.py [--pods 50] [--rate 5] [--docker-floor]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from _cluster import ProcessCluster

from tests.e2e.conftest import DockerCluster

from machinery import errors
from machinery.client import ApiClient

IMAGE = "k8py/hello:1.0"
PAUSE = "k8py/pause:3.10"
FLOOR_IN_FLIGHT = 4  # the kubelet's default --max-parallel-pod-starts
NAMESPACE = "bench"
TIMEOUT = 180.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (every process, the kernel too)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def all_started(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    wanted = len((pod.get("spec") or {}).get("containers") or [])
    return len(statuses) == wanted > 0 and all(
        s.get("started") or "running" in (s.get("state") or {}) for s in statuses)


def manifest(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "pod-startup"}},
            "spec": {"containers": [{"name": "hello", "image": IMAGE,
                                     "imagePullPolicy": "IfNotPresent"}],
                     "terminationGracePeriodSeconds": 0}}


async def watch_started(client: ApiClient, resource_version: str, want: int,
                        started: dict[str, float]) -> None:
    """Record the first time each pod is seen with all containers started, until ``want``."""
    while len(started) < want:
        try:
            stream = cast(AsyncGenerator[dict[str, Any], None], client.watch(
                "pods", NAMESPACE, resource_version=resource_version))
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    obj = event["object"]
                    resource_version = obj["metadata"].get("resourceVersion", resource_version)
                    name = obj["metadata"].get("name", "")
                    if event["type"] in ("ADDED", "MODIFIED") and name not in started \
                            and all_started(obj):
                        started[name] = time.time()
                        if len(started) >= want:
                            return
        except errors.Expired:
            _, resource_version = await client.list_all("pods", NAMESPACE)


async def run_k8py(url: str, pods: int, rate: float) -> tuple[list[float], float]:
    async with ApiClient(url, user_agent="bench-pod-startup") as client:
        await client.create("namespaces", {"metadata": {"name": NAMESPACE}})
        _, rv = await client.list_all("pods", NAMESPACE)
        started: dict[str, float] = {}
        watcher = asyncio.ensure_future(watch_started(client, rv, pods, started))
        created: dict[str, float] = {}
        begin = time.time()

        async def create(name: str) -> None:
            created[name] = time.time()
            await client.create("pods", manifest(name), NAMESPACE)

        creates = []
        for index in range(pods):
            await asyncio.sleep(max(0.0, begin + index / rate - time.time()))
            creates.append(asyncio.ensure_future(create(f"startup-{index:03d}")))
        await asyncio.gather(*creates)
        try:
            await asyncio.wait_for(watcher, TIMEOUT)
        except TimeoutError:
            raise SystemExit(f"only {len(started)}/{pods} pods started within {TIMEOUT:.0f}s")
        latencies = [started[name] - created[name] for name in created]
        total = max(started.values()) - min(created.values())
        await client.delete_collection("pods", NAMESPACE)
        return latencies, total


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def run_swarm(replicas: int) -> float:
    joined = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() != "active"
    if joined:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    name = f"k8py-bench-{uuid.uuid4().hex[:8]}"
    try:
        begin = time.time()
        docker("service", "create", "--detach", "--no-resolve-image", "--replicas", str(replicas),
               "--name", name, IMAGE)
        deadline = begin + TIMEOUT
        while True:
            states = docker("service", "ps", name, "--filter", "desired-state=running",
                            "--format", "{{.CurrentState}}").splitlines()
            if sum(1 for s in states if s.startswith("Running")) >= replicas:
                return time.time() - begin
            if time.time() > deadline:
                raise SystemExit(f"swarm: fewer than {replicas} tasks running after {TIMEOUT:.0f}s")
            time.sleep(0.1)
    finally:
        docker("service", "rm", name, check=False)
        deadline = time.time() + 60
        while docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={name}",
                     check=False).strip() and time.time() < deadline:
            time.sleep(0.5)
        if joined:
            docker("swarm", "leave", "--force", check=False)


def run_docker_floor(pods: int, rate: float, in_flight: int) -> tuple[list[float], float]:
    """Pods as bare Docker calls with Docker's own networking, paced like the pods.

    Per pod: create, start and inspect a pause sandbox on the bridge network
    (Docker's IPAM and endpoint), then the same for a hello container in its
    namespaces; ``in_flight`` pods at once (the two kubelets'
    --max-parallel-pod-starts).  This is what a pod costs when Docker wires
    it; k8py's kubelets wire sandboxes themselves (``kubelet.podnetwork``) and
    can come in under it.
    """
    cluster = DockerCluster()
    api = cluster.client.api
    slots = threading.Semaphore(in_flight)
    latencies: list[float] = []
    labels = {"io.k8py.cluster": cluster.name}

    def pod(arrival: float) -> None:
        with slots:
            sandbox = api.create_container(PAUSE, labels=labels, host_config=api.create_host_config(
                network_mode=cluster.network, ipc_mode="shareable"))["Id"]
            api.start(sandbox)
            api.inspect_container(sandbox)
            app = api.create_container(IMAGE, labels=labels, host_config=api.create_host_config(
                network_mode=f"container:{sandbox}", ipc_mode=f"container:{sandbox}"))["Id"]
            api.start(app)
            api.inspect_container(app)
            latencies.append(time.time() - arrival)

    try:
        begin = time.time()
        with ThreadPoolExecutor(pods) as pool:
            futures = []
            for index in range(pods):
                time.sleep(max(0.0, begin + index / rate - time.time()))
                futures.append(pool.submit(pod, time.time()))
            for future in futures:
                future.result()
        return latencies, time.time() - begin
    finally:
        cluster.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0, help="pods created per second")
    parser.add_argument("--docker-floor", action="store_true",
                        help="also run the same pods as bare Docker calls (no k8py) and add "
                             "docker_p50, docker_p99 and docker_total to the line")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with ProcessCluster(kubelets=2) as cluster:
        busy = busy_cpu_seconds()
        latencies, k8py_total = asyncio.run(run_k8py(cluster.api_url, args.pods, args.rate))
        k8py_cpu = (busy_cpu_seconds() - busy) / args.pods
    swarm_total = run_swarm(args.pods)
    line = (f"pod_startup k8py_p50={percentile(latencies, 0.50):.2f}s "
            f"k8py_p99={percentile(latencies, 0.99):.2f}s k8py_total={k8py_total:.2f}s "
            f"swarm_total={swarm_total:.2f}s ratio={k8py_total / swarm_total:.2f} "
            f"k8py_cpu_per_pod={k8py_cpu:.3f}s")
    if args.docker_floor:
        busy = busy_cpu_seconds()
        floor, floor_total = run_docker_floor(args.pods, args.rate, 2 * FLOOR_IN_FLIGHT)
        docker_cpu = (busy_cpu_seconds() - busy) / args.pods
        line += (f" docker_p50={percentile(floor, 0.50):.2f}s "
                 f"docker_p99={percentile(floor, 0.99):.2f}s docker_total={floor_total:.2f}s "
                 f"docker_cpu_per_pod={docker_cpu:.3f}s")
    line += f" cores={cores} load={os.getloadavg()[0]:.1f}"
    print(line)


if __name__ == "__main__":
    main()
