"""bench/deployment_scale: a 50-replica Deployment, create to all available, beside Docker Swarm.

``pod_startup`` times pods a client creates itself; this times the whole
chain a user waits on when scaling a workload: the Deployment controller
writes a ReplicaSet, the ReplicaSet controller creates the pods (in
slow-start batches 1, 2, 4, ...), the scheduler binds them, the kubelets
start them, and the Deployment's ``status.availableReplicas`` reaches the
replica count.  This run:

1. starts a process cluster (etcd, API server, scheduler, the controller
   manager with every default controller, two kubelets);
2. watches the namespace's Deployments and pods, creates one Deployment of
   ``k8py/hello:1.0`` (image already present, grace period 0) and takes the
   time from sending the create to the watch event showing
   ``availableReplicas`` at the replica count;
3. from the pod watch, notes when the last pod was created, bound, running
   and ready, so a slow figure says which stage it spent its time in
   (printed to stderr);
4. runs the same image as a 50-replica Docker Swarm service and times
   ``docker service create`` to 50 tasks running (swarm on 127.0.0.1; the
   image is used as it is locally).

The engine's swarm may be shared with another benchmark running at the same
time (``pod_startup`` does the same): the script joins it only if the engine
is in none, and then leaves it only once no service is left (waiting at most
``TIMEOUT``), so it never pulls the swarm from under another run.  Every
container of its own service is removed, also those Swarm created but never
started.

``load`` is the 1-minute load average just before the k8py run: on a shared
machine the figures move with it.  Prints one line:

    deployment_scale k8py=..s swarm=..s ratio=.. load=..

    python bench/deployment_scale.py [--replicas 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from _cluster import ProcessCluster
from pod_startup import all_started, docker

from machinery import errors
from machinery.client import ApiClient
from machinery.meta import pod_is_ready

IMAGE = "k8py/hello:1.0"
NAMESPACE = "bench"
NAME = "scale"
TIMEOUT = 240.0

Obj = dict[str, Any]


def manifest(replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": NAME}},
                     "template": {"metadata": {"labels": {"app": NAME}}, "spec": {
                         "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "hello", "image": IMAGE,
                                         "imagePullPolicy": "IfNotPresent",
                                         "ports": [{"containerPort": 8080}]}]}}}}


@dataclass
class Stages:
    """When (machine clock) each pod was first seen created, bound, running and ready."""

    created: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)

    def observe(self, pod: Obj, now: float) -> None:
        name = pod["metadata"]["name"]
        self.created.setdefault(name, now)
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self.bound.setdefault(name, now)
            self.nodes[name] = node
        if all_started(pod):
            self.running.setdefault(name, now)
        if pod_is_ready(pod):
            self.ready.setdefault(name, now)

    def summary(self, begin: float) -> str:
        parts = []
        for stage in ("created", "bound", "running", "ready"):
            seen: dict[str, float] = getattr(self, stage)
            first = min(seen.values(), default=begin) - begin
            last = max(seen.values(), default=begin) - begin
            parts.append(f"{stage}={len(seen)} first={first:.2f}s last={last:.2f}s")
        per_node: dict[str, int] = {}
        for node in self.nodes.values():
            per_node[node] = per_node.get(node, 0) + 1
        return "; ".join(parts) + f"; per node {sorted(per_node.values())}"


async def follow(client: ApiClient, resource: str, resource_version: str,
                 handle: Callable[[Obj], bool]) -> None:
    """Feed each object the namespace's watch shows to ``handle`` until it returns True."""
    while True:
        try:
            stream = cast(AsyncGenerator[dict[str, Any], None], client.watch(
                resource, NAMESPACE, resource_version=resource_version))
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    obj = event["object"]
                    resource_version = obj["metadata"].get("resourceVersion", resource_version)
                    if event["type"] in ("ADDED", "MODIFIED") and handle(obj):
                        return
        except errors.Expired:
            items, resource_version = await client.list_all(resource, NAMESPACE)
            if any(handle(item) for item in items):
                return


async def run_k8py(url: str, replicas: int) -> float:
    async with ApiClient(url, user_agent="bench-deployment-scale") as client:
        await client.create("namespaces", {"metadata": {"name": NAMESPACE}})
        _, deploy_rv = await client.list_all("deployments", NAMESPACE)
        _, pod_rv = await client.list_all("pods", NAMESPACE)
        stages = Stages()
        done: list[float] = []

        def on_pod(pod: Obj) -> bool:
            stages.observe(pod, time.time())
            return False

        def on_deployment(deployment: Obj) -> bool:
            available = int((deployment.get("status") or {}).get("availableReplicas") or 0)
            if deployment["metadata"]["name"] == NAME and available >= replicas:
                done.append(time.time())
                return True
            return False

        pods = asyncio.ensure_future(follow(client, "pods", pod_rv, on_pod))
        available = asyncio.ensure_future(follow(client, "deployments", deploy_rv, on_deployment))
        try:
            begin = time.time()
            await client.create("deployments", manifest(replicas), NAMESPACE)
            try:
                await asyncio.wait_for(available, TIMEOUT)
            except TimeoutError:
                raise SystemExit(f"fewer than {replicas} replicas available after "
                                 f"{TIMEOUT:.0f}s: {stages.summary(begin)}")
        finally:
            for task in (pods, available):
                task.cancel()
            await asyncio.gather(pods, available, return_exceptions=True)
        print(f"k8py stages: {stages.summary(begin)}", file=sys.stderr)
        return done[0] - begin


def run_swarm(replicas: int) -> float:
    """Seconds from ``docker service create`` to ``replicas`` tasks running."""
    joined = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() != "active"
    if joined:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    name = f"k8py-bench-{uuid.uuid4().hex[:8]}"
    mine = f"label=com.docker.swarm.service.name={name}"
    try:
        begin = time.time()
        docker("service", "create", "--detach", "--no-resolve-image", "--replicas", str(replicas),
               "--name", name, IMAGE)
        while True:
            states = docker("service", "ps", name, "--filter", "desired-state=running",
                            "--format", "{{.CurrentState}}").splitlines()
            if sum(1 for s in states if s.startswith("Running")) >= replicas:
                return time.time() - begin
            if time.time() > begin + TIMEOUT:
                raise SystemExit(f"swarm: fewer than {replicas} tasks running after {TIMEOUT:.0f}s")
            time.sleep(0.1)
    finally:
        docker("service", "rm", name, check=False)
        deadline = time.time() + 60
        while docker("ps", "-aq", "--filter", mine, check=False).strip() \
                and time.time() < deadline:
            time.sleep(0.5)
        leftovers = docker("ps", "-aq", "--filter", mine, check=False).split()
        if leftovers:
            docker("rm", "-f", *leftovers, check=False)
        if joined:
            deadline = time.time() + TIMEOUT
            while docker("service", "ls", "-q", check=False).strip() and time.time() < deadline:
                time.sleep(1)
            docker("swarm", "leave", "--force", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=50)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with ProcessCluster(kubelets=2, controllers="*") as cluster:
        k8py = asyncio.run(run_k8py(cluster.api_url, args.replicas))
    swarm = run_swarm(args.replicas)
    print(f"deployment_scale k8py={k8py:.2f}s swarm={swarm:.2f}s ratio={k8py / swarm:.2f} "
          f"load={load:.2f}")


if __name__ == "__main__":
    main()
