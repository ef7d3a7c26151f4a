"""What a pod asks of a node: resource requests and host ports, counted as Kubernetes counts them.

The scheduler fits pods onto nodes with these numbers, a kubelet admitting a
pod must reach the same verdict (or it rejects what the scheduler placed),
and quota adds them up; so the counting rules live here once, following
``k8s.io/component-helpers/resource`` (``PodRequests``):

* app containers run together, so their requests add up;
* init containers run one at a time before them, so the pod needs at least
  the largest of them; a restartable init container (a sidecar,
  ``restartPolicy: Always``) keeps running, so it adds to everything started
  after it, including the app containers;
* ``spec.overhead`` (the sandbox's own cost) is added on top.

Amounts are integers: CPU in millicores, everything else in whole units
(bytes for memory and storage), rounded up as ``Quantity.Value`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from machinery.quantity import cpu_millis, memory_bytes

__all__ = [
    "CPU",
    "MEMORY",
    "PODS",
    "EPHEMERAL_STORAGE",
    "DEFAULT_MILLI_CPU_REQUEST",
    "DEFAULT_MEMORY_REQUEST",
    "ResourceAmounts",
    "amounts",
    "pod_requests",
    "pod_non_zero_requests",
    "HostPort",
    "pod_host_ports",
]

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
EPHEMERAL_STORAGE = "ephemeral-storage"

# What scoring assumes a container without requests uses (upstream
# ``schedutil.DefaultMilliCPURequest`` / ``DefaultMemoryRequest``), so that
# request-less pods still spread instead of piling onto one "empty" node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

ResourceAmounts = dict[str, int]
Obj = Mapping[str, Any]
# (hostIP, protocol, hostPort); hostIP "0.0.0.0" stands for every address.
HostPort = tuple[str, str, int]


def amounts(resources: Mapping[str, Any] | None) -> ResourceAmounts:
    """A ResourceList (``{"cpu": "500m", "memory": "1Gi"}``) as integers; bad values count as 0."""
    out: ResourceAmounts = {}
    for name, raw in (resources or {}).items():
        try:
            out[name] = cpu_millis(raw) if name == CPU else memory_bytes(raw)
        except (ValueError, TypeError):
            out[name] = 0
    return out


def _add(into: ResourceAmounts, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: ResourceAmounts, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def _container_requests(container: Obj) -> ResourceAmounts:
    return amounts((container.get("resources") or {}).get("requests"))


def _with_defaults(requests: ResourceAmounts) -> ResourceAmounts:
    out = dict(requests)
    if not out.get(CPU):
        out[CPU] = DEFAULT_MILLI_CPU_REQUEST
    if not out.get(MEMORY):
        out[MEMORY] = DEFAULT_MEMORY_REQUEST
    return out


def _combine(pod: Obj, per_container: Any) -> ResourceAmounts:
    spec = pod.get("spec") or {}
    total: ResourceAmounts = {}
    for container in spec.get("containers") or ():
        _add(total, per_container(container))
    init_peak: ResourceAmounts = {}
    sidecars: ResourceAmounts = {}
    for container in spec.get("initContainers") or ():
        requests = per_container(container)
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            running = dict(sidecars)
        else:
            running = dict(sidecars)
            _add(running, requests)
        _max(init_peak, running)
    _max(total, init_peak)
    _add(total, amounts(spec.get("overhead")))
    return total


def pod_requests(pod: Obj) -> ResourceAmounts:
    """The effective requests of the whole pod, as a node must reserve them."""
    return _combine(pod, _container_requests)


def pod_non_zero_requests(pod: Obj) -> ResourceAmounts:
    """Like :func:`pod_requests`, but a container without a CPU or memory request counts the defaults.

    Only scoring uses these; fitting uses the real requests.
    """
    return _combine(pod, lambda c: _with_defaults(_container_requests(c)))


def _ports(containers: Iterable[Obj]) -> Iterable[HostPort]:
    for container in containers:
        for port in container.get("ports") or ():
            host_port = port.get("hostPort") or 0
            if isinstance(host_port, int) and host_port > 0:
                yield (port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", host_port)


def pod_host_ports(pod: Obj) -> list[HostPort]:
    """The host ports the pod's containers bind (app containers and sidecars)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    return list(_ports([*(spec.get("containers") or ()), *sidecars]))
