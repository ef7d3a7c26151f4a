"""What a pod pass needs from the rest of the kubelet, bundled for injection.

Pod syncs, teardown and the status writer share these collaborators; unit
tests build one around a fake runtime and replace ``install_reject`` (the one
step that enters a network namespace) with a recorder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelet.backoff import Backoff
from kubelet.config import KubeletConfig
from kubelet.env import ObjectSource
from kubelet.images import ImageManager
from kubelet.podnetwork import BridgeNetwork
from kubelet.probes import ProbeManager
from kubelet.runtime import DockerRuntime
from kubelet.sandbox import install_service_reject
from kubelet.volumes import VolumeManager
from machinery.events import EventRecorder

__all__ = ["SyncContext"]


@dataclass
class SyncContext:
    config: KubeletConfig
    runtime: DockerRuntime
    recorder: EventRecorder
    images: ImageManager
    volumes: VolumeManager
    probes: ProbeManager
    objects: ObjectSource
    backoff: Backoff
    allocatable: Callable[[], Mapping[str, str]]
    install_reject: Callable[[int, str], Awaitable[None]] = field(
        default=install_service_reject)
    # (namespace, enableServiceLinks) -> the Services whose variables a container gets
    services: Callable[[str, bool], list[dict[str, Any]]] = field(
        default=lambda namespace, links: [])
    # Whether a kube-proxy serves this node now: only then is waiting for its rules worth it.
    proxy_present: Callable[[], bool] = field(default=lambda: False)
    # This node's own pod addresses and wiring (--node-pod-cidr), or None for Docker's IPAM.
    pod_network: BridgeNetwork | None = None
    # Pods bringing up a sandbox and its containers at once (--max-parallel-pod-starts).
    start_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
