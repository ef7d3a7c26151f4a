"""The kubelet's Node object and its heartbeats.

The kubelet registers its Node (or, when it already exists, updates its
labels and addresses), then keeps two signals fresh that the node lifecycle
controller watches: the Lease in ``kube-node-lease`` renewed every
``--heartbeat-period`` (cheap, the liveness signal), and the Node status
(capacity, nodeInfo, addresses, conditions with heartbeat times) written
every ``--node-status-update-frequency`` and when the runtime's health flips.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelet.config import KubeletConfig
from kubelet.machine import MachineInfo, machine_info
from kubelet.runtime import DockerRuntime
from machinery import errors
from machinery.client import ApiClient
from machinery.meta import get_condition, now_micro, now_rfc3339
from machinery.quantity import memory_bytes

__all__ = ["NodeAgent", "LEASE_NAMESPACE", "LEASE_DURATION"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40

_HEALTHY = {
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
    "MemoryPressure": ("False", "KubeletHasSufficientMemory",
                       "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
}


class NodeAgent:
    def __init__(self, client: ApiClient, config: KubeletConfig, runtime: DockerRuntime) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.machine: MachineInfo = machine_info(config.root_dir, config.node_name)
        self.runtime_version = ""
        self.node_uid = ""
        self.registered = False
        self.pod_cidr = ""  # this node's own pod addresses, once the kubelet knows them
        self.last_heartbeat_ok = False
        self._conditions: list[Obj] = []
        self._lease: Obj | None = None

    # -- what the node looks like -------------------------------------------------------------

    def capacity(self) -> dict[str, str]:
        cfg, machine = self.config, self.machine
        memory = memory_bytes(cfg.capacity_memory) if cfg.capacity_memory else machine.memory_bytes
        return {
            "cpu": cfg.capacity_cpu or str(machine.cpus),
            "memory": f"{memory // 1024}Ki",
            "ephemeral-storage": f"{machine.ephemeral_bytes // 1024}Ki",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0",
            "pods": str(cfg.max_pods),
        }

    def allocatable(self) -> dict[str, str]:
        """Capacity minus reservations (none are configured), for the downward API too."""
        return dict(self.capacity())

    def labels(self) -> dict[str, str]:
        arch = self.machine.architecture
        return {
            "kubernetes.io/hostname": self.config.node_name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch, **self.config.node_labels,
        }

    def _node_info(self) -> Obj:
        m = self.machine
        return {
            "machineID": m.machine_id, "systemUUID": m.system_uuid, "bootID": m.boot_id,
            "kernelVersion": m.kernel_version, "osImage": m.os_image,
            "containerRuntimeVersion": f"docker://{self.runtime_version}",
            "kubeletVersion": self.config.version, "kubeProxyVersion": self.config.version,
            "operatingSystem": "linux", "architecture": m.architecture,
        }

    def _set_conditions(self, runtime_ok: bool) -> None:
        now = now_rfc3339()
        wanted = dict(_HEALTHY)
        if not runtime_ok:
            wanted["Ready"] = ("False", "KubeletNotReady", "container runtime is down")
        out = []
        for type_, (status, reason, message) in wanted.items():
            previous = get_condition(self._conditions, type_)
            since = previous.get("lastTransitionTime") if previous and \
                previous.get("status") == status else now
            out.append({"type": type_, "status": status, "lastHeartbeatTime": now,
                        "lastTransitionTime": since, "reason": reason, "message": message})
        self._conditions = out

    async def _images(self) -> list[Obj]:
        images = await self.runtime.call(self.runtime.api.images)
        images.sort(key=lambda i: int(i.get("Size") or 0), reverse=True)
        out = []
        for image in images[:50]:
            names = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
            names += [d for d in image.get("RepoDigests") or [] if "<none>" not in d]
            if names:
                out.append({"names": names, "sizeBytes": int(image.get("Size") or 0)})
        return out

    async def _status(self, runtime_ok: bool) -> Obj:
        self._set_conditions(runtime_ok)
        capacity = self.capacity()
        status: Obj = {
            "capacity": capacity, "allocatable": self.allocatable(),
            "conditions": self._conditions,
            "addresses": [{"type": "InternalIP", "address": self.config.node_ip},
                          {"type": "Hostname", "address": self.config.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.config.port}},
            "nodeInfo": self._node_info(),
        }
        if runtime_ok:
            status["images"] = await self._images()
        return status

    # -- registration and heartbeats -------------------------------------------------------------

    async def register(self) -> None:
        """Create the Node, or adopt and update an existing one; retries until it succeeds."""
        version = await self.runtime.version()
        self.runtime_version = str(version.get("Version", "unknown"))
        delay = 0.5
        while True:
            try:
                await self._register_once()
                self.registered = True
                log.info("node %s registered", self.config.node_name)
                return
            except errors.ApiError as exc:
                log.warning("registering node %s failed: %s; retrying in %.1fs",
                            self.config.node_name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 7.0)

    async def _register_once(self) -> None:
        name = self.config.node_name
        body: Obj = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": self.labels(), "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"taints": self.config.register_with_taints}
            if self.config.register_with_taints else {},
        }
        if self.pod_cidr:
            body["spec"].update(podCIDR=self.pod_cidr, podCIDRs=[self.pod_cidr])
        try:
            node = await self.client.create("nodes", body)
        except errors.AlreadyExists:
            node = await self.client.get("nodes", name)
            self._conditions = list((node.get("status") or {}).get("conditions") or [])
            patch: Obj = {"metadata": {"labels": self.labels(),
                                       "annotations": body["metadata"]["annotations"]}}
            if self.pod_cidr and not (node.get("spec") or {}).get("podCIDR"):
                patch["spec"] = {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}
            node = await self.client.patch("nodes", name, patch)
        self.node_uid = str(node["metadata"]["uid"])
        await self.update_status()

    async def update_status(self) -> None:
        runtime_ok = await self.runtime.ping()
        status = await self._status(runtime_ok)
        await self.client.patch("nodes", self.config.node_name, {"status": status},
                                subresource="status", patch_type="merge")

    async def renew_lease(self) -> None:
        name = self.config.node_name
        if self._lease is None:
            try:
                self._lease = await self.client.get("leases", name, LEASE_NAMESPACE)
            except errors.NotFound:
                self._lease = await self.client.create("leases", self._new_lease(), LEASE_NAMESPACE)
                return
        lease = self._lease
        lease.setdefault("spec", {}).update(holderIdentity=name,
                                            leaseDurationSeconds=LEASE_DURATION,
                                            renewTime=now_micro())
        try:
            self._lease = await self.client.update("leases", lease)
        except (errors.Conflict, errors.NotFound):
            self._lease = None  # re-read (or re-create) on the next beat
            raise

    def _new_lease(self) -> Obj:
        name = self.config.node_name
        meta: Obj = {"name": name, "namespace": LEASE_NAMESPACE}
        if self.node_uid:
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name,
                                        "uid": self.node_uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION,
                         "renewTime": now_micro()}}

    async def _every(self, period: float, what: str, fn: Any) -> None:
        while True:
            try:
                await fn()
                self.last_heartbeat_ok = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed: %s", what, exc)
                await asyncio.sleep(min(period, 1.0))
                continue
            await asyncio.sleep(period)

    async def run(self) -> None:
        """Renew the Lease and update the status until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._every(self.config.heartbeat_period, "lease renewal",
                                          self.renew_lease))
            group.create_task(self._every(self.config.node_status_update_frequency,
                                          "node status update", self.update_status))
