"""The kubelet: wires the node agent, the pod informer, pod workers and housekeeping.

Start-up order matters for restart safety: the Node is registered, then the
informer of this node's pods (``spec.nodeName=<node>``) must have synced
before any pod worker or garbage collection runs, so that containers left by
a previous kubelet are adopted by their pods rather than taken for orphans.
Containers keep running across kubelet restarts: shutting down only stops
the kubelet's own tasks.

Docker's event stream (container start/die/oom of this node) is read on a
thread of its own and wakes the owning pod worker at once, so exits are
noticed in milliseconds rather than at the next resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from kubelet.backoff import Backoff
from kubelet.config import KubeletConfig
from kubelet.context import SyncContext
from kubelet.env import ApiObjectSource
from kubelet.gc import Housekeeping
from kubelet.images import ImageManager
from kubelet.node import NodeAgent
from kubelet.podnetwork import bridge_network, docker_ip_range, wired_addresses
from kubelet.pods import PodWorkers
from kubelet.probes import ProbeManager
from kubelet.runtime import LABEL_POD_UID, DockerRuntime
from kubelet.volumes import VolumeManager
from machinery.client import ApiClient
from machinery.component import Health
from machinery.events import EventBroadcaster
from machinery.informer import DeletedFinalStateUnknown, Informer
from machinery.presence import PresenceObserver

__all__ = ["Kubelet"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)
_WAKE_ACTIONS = frozenset({"start", "die", "oom", "kill", "stop", "destroy"})
# What changes a container's inspection (exec, attach and top events do not).
_CHANGE_ACTIONS = _WAKE_ACTIONS | {"pause", "unpause", "restart", "rename", "update"}


class Kubelet:
    def __init__(self, config: KubeletConfig, client: ApiClient,
                 runtime: DockerRuntime | None = None) -> None:
        self.config = config
        self.client = client
        self.runtime = runtime or DockerRuntime(config.docker_host, config.cluster_name,
                                                config.node_name, config.network)
        self.node = NodeAgent(client, config, self.runtime)
        self.broadcaster = EventBroadcaster(client)
        recorder = self.broadcaster.recorder("kubelet", config.node_name)
        self.informer = Informer(client, "pods", field_selector=f"spec.nodeName={config.node_name}")
        self.services = Informer(client, "services")
        # kube-proxy's presence Lease: new pods wait for its rules only while it is live.
        self.proxy = PresenceObserver(client, "kube-proxy", config.node_name)
        self.probes = ProbeManager(self.runtime, recorder, self._wake)
        objects = ApiObjectSource(client)
        self.volumes = VolumeManager(self.runtime, objects, config.root_dir, config.node_ip,
                                     self.node.allocatable)
        self.ctx = SyncContext(
            config=config, runtime=self.runtime, recorder=recorder,
            images=ImageManager(self.runtime, recorder, Backoff(config.backoff_initial,
                                                                config.backoff_max)),
            volumes=self.volumes, probes=self.probes, objects=objects,
            backoff=Backoff(config.backoff_initial, config.backoff_max),
            allocatable=self.node.allocatable, services=self._services_for,
            proxy_present=self.proxy.present,
            start_slots=asyncio.Semaphore(max(1, config.max_parallel_pod_starts)))
        self.workers = PodWorkers(self.ctx, client, self.informer)
        self.housekeeping = Housekeeping(self.runtime, self.workers, self.informer, self.volumes,
                                         [self.ctx.backoff, self.ctx.images.backoff])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._stopping = threading.Event()
        self._runtime_ok = False

    # -- health ---------------------------------------------------------------------------------

    def add_checks(self, health: Health) -> None:
        health.add_check("runtime", lambda: self._runtime_ok)
        health.add_check("node-registered", lambda: self.node.registered, ready_only=True)
        health.add_check("pods-synced", self.informer.has_synced, ready_only=True)

    # -- wiring ---------------------------------------------------------------------------------

    def _wake(self, uid: str) -> None:
        self.workers.wake(uid)

    def _on_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self.workers.wake(str((pod.get("metadata") or {}).get("uid")))

    def _services_for(self, namespace: str, links: bool) -> list[Obj]:
        """The API server's own Service always; the namespace's when service links are on."""
        chosen: dict[str, Obj] = {}
        master = self.services.get("default/kubernetes")
        if master is not None:
            chosen["kubernetes"] = master
        if links:
            for service in self.services.list(namespace):
                chosen.setdefault(str(service["metadata"]["name"]), service)
        return list(chosen.values())

    def _seed_readiness(self) -> None:
        """Containers a previous kubelet saw ready stay ready until probed otherwise."""
        for pod in self.informer.list():
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                container_id = str(status.get("containerID") or "")
                if status.get("ready") and container_id.startswith("docker://"):
                    self.probes.seed_ready(container_id.removeprefix("docker://"))

    def _container_event(self, uid: str, container_id: str, action: str) -> None:
        if action in _CHANGE_ACTIONS:
            self.runtime.changed(container_id)
        if uid and action in _WAKE_ACTIONS:
            self.workers.container_event(uid, container_id, action)

    def _watch_docker(self) -> None:
        """Thread body: forward this node's container events to the runtime's inspection
        cache and the pod workers."""
        loop = self._loop
        assert loop is not None
        while not self._stopping.is_set():
            try:
                self._stream = self.runtime.events()
                # Events may have been missed while (re)connecting: trust no inspection.
                loop.call_soon_threadsafe(self.runtime.forget_inspections)
                for event in self._stream:
                    actor = event.get("Actor") or {}
                    loop.call_soon_threadsafe(
                        self._container_event,
                        str((actor.get("Attributes") or {}).get(LABEL_POD_UID) or ""),
                        str(actor.get("ID") or event.get("id") or ""),
                        str(event.get("Action") or ""))
            except Exception as exc:
                if not self._stopping.is_set():
                    log.warning("docker event stream broke: %s; reconnecting", exc)
                    time.sleep(1)

    async def _runtime_monitor(self) -> None:
        """Report the runtime's health, and tell the Node at once when it flips."""
        while True:
            ok = await self.runtime.ping()
            if ok != self._runtime_ok:
                log.warning("container runtime is %s", "up" if ok else "down")
                self._runtime_ok = ok
                with contextlib.suppress(Exception):
                    await self.node.update_status()
            await asyncio.sleep(5)

    async def _prepare_runtime(self) -> None:
        delay = 0.5
        while True:
            try:
                network = await self.runtime.ensure_network(
                    self.config.pod_cidr,
                    docker_ip_range(self.config.pod_cidr, self.config.node_pod_cidr))
                await self._prepare_pod_network(network)
                self._runtime_ok = True
                return
            except Exception as exc:
                log.warning("docker is not ready (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _prepare_pod_network(self, network: Obj) -> None:
        """Wire pods onto the bridge ourselves when this node has a pod CIDR that is safe to
        use there; the addresses on the sandboxes that survived a restart stay taken."""
        pod_network = bridge_network(network, self.config.node_pod_cidr)
        if pod_network is not None:
            pod_network.forget_all_but(await wired_addresses(self.runtime))
            log.info("pods get addresses from %s on bridge %s", pod_network.cidr,
                     pod_network.bridge)
        self.ctx.pod_network = pod_network
        self.node.pod_cidr = pod_network.cidr if pod_network is not None else ""

    async def run(self) -> None:
        """Run until cancelled; pods keep running when the kubelet stops."""
        self._loop = asyncio.get_running_loop()
        thread: threading.Thread | None = None
        try:
            await self._prepare_runtime()
            await self.node.register()
            await self.informer.start()
            await self.services.start()
            await self.proxy.start()
            while not (await self.informer.wait_for_sync(30)
                       and await self.services.wait_for_sync(30)
                       and await self.proxy.wait_for_sync(30)):
                log.info("waiting for the pod, service and kube-proxy lease informers to sync")
            self._seed_readiness()
            self.informer.add_handler(on_add=self.workers.ensure,
                                      on_update=self.workers.update,
                                      on_delete=self._on_delete)
            thread = threading.Thread(target=self._watch_docker, name="docker-events",
                                      daemon=True)
            thread.start()
            log.info("kubelet %s running (node IP %s)", self.config.node_name,
                     self.config.node_ip)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.node.run())
                group.create_task(self.housekeeping.run())
                group.create_task(self._runtime_monitor())
        finally:
            self._stopping.set()
            if self._stream is not None:
                with contextlib.suppress(Exception):
                    self._stream.close()
            await self.workers.stop()
            await self.probes.stop()
            await self.informer.stop()
            await self.services.stop()
            await self.proxy.stop()
            await self.broadcaster.stop(timeout=2.0)
            self.runtime.close()
