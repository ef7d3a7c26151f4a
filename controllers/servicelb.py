"""The LoadBalancer controller: an ingress address for every ``type: LoadBalancer`` Service.

k8py has no cloud to ask for a load balancer, so, like MetalLB or k3s'
ServiceLB, it hands out addresses from a pool of its own -- by default
``127.0.2.0/24``, loopback addresses of the machine, where every node's
kube-proxy listens on ``ingressIP:port``.  The Service's
``status.loadBalancer.ingress`` is written through ``services/status``, so
``kubectl get svc`` shows the address instead of ``<pending>``.

Allocation follows upstream's expectations of a load balancer provider:
``spec.loadBalancerIP`` is honoured when it lies in the pool and is free
(otherwise the Service stays pending with a Warning event, as a cloud would
refuse it); an address is never handed out twice; it is released when the
Service is deleted or stops being a LoadBalancer, and Services waiting for
an address are retried then.  Services with a ``loadBalancerClass`` belong
to another implementation and are left alone.  The allocation table is
rebuilt from the Services' statuses when the controller starts, so a
restart keeps every address where it was.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from controllers.base import QueueController
from controllers.manager import ControllerContext
from machinery import errors
from machinery.events import NORMAL, WARNING
from machinery.informer import meta_key
from machinery.meta import deepcopy_json
from machinery.reconciler import Requeue

__all__ = ["ServiceLBController", "DEFAULT_POOL", "wants_load_balancer"]

Obj = dict[str, Any]
DEFAULT_POOL = "127.0.2.0/24"
COMPONENT = "service-lb-controller"


def wants_load_balancer(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _ingress_ips(service: Obj) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    return [str(entry["ip"]) for entry in ingress if entry.get("ip")]


class _Pool:
    """Addresses of one range and who holds them; every change is synchronous, hence race-free."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.holder: dict[str, str] = {}   # ip -> service key
        self.held: dict[str, str] = {}     # service key -> ip

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def _candidates(self) -> Iterator[str]:
        hosts = self.network.hosts() if self.network.num_addresses > 2 else iter(self.network)
        return (str(ip) for ip in hosts)

    def claim(self, key: str, ip: str) -> bool:
        if self.holder.get(ip, key) != key or not self.contains(ip):
            return False
        self.release(key)
        self.holder[ip] = key
        self.held[key] = ip
        return True

    def claim_any(self, key: str) -> str | None:
        for ip in self._candidates():
            if ip not in self.holder:
                self.claim(key, ip)
                return ip
        return None

    def release(self, key: str) -> str | None:
        ip = self.held.pop(key, None)
        if ip is not None:
            del self.holder[ip]
        return ip


class ServiceLBController(QueueController):
    """Keyed by the Service's ``namespace/name``."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder(COMPONENT)
        self.pool = _Pool(str(ctx.option("load_balancer_ip_range", None) or DEFAULT_POOL))
        self.services = ctx.informers.informer("services")
        super().__init__("servicelb", [self.services], clock=ctx.clock)
        self.services.add_handler(self.enqueue, lambda _old, new: self.enqueue(new),
                                  self.enqueue)
        self._adopted = False

    def _adopt(self) -> None:
        """Take back the addresses earlier runs wrote into statuses, oldest Service first."""
        self._adopted = True
        ordered = sorted(self.services.list(), key=lambda s: (
            (s.get("metadata") or {}).get("creationTimestamp") or "", meta_key(s)))
        for service in ordered:
            if wants_load_balancer(service):
                for ip in _ingress_ips(service):
                    if self.pool.claim(meta_key(service), ip):
                        break

    def _wake_waiting(self) -> None:
        for service in self.services.list():
            key = meta_key(service)
            if wants_load_balancer(service) and key not in self.pool.held:
                self.queue.add(key)

    def _choose(self, key: str, service: Obj) -> tuple[str | None, str]:
        """The address for the Service, or None and why not."""
        requested = str((service.get("spec") or {}).get("loadBalancerIP") or "")
        if requested:
            if not self.pool.contains(requested):
                return None, f"requested IP {requested} is not in the pool {self.pool.network}"
            if not self.pool.claim(key, requested):
                return None, (f"requested IP {requested} is already assigned to "
                              f"{self.pool.holder[requested]}")
            return requested, ""
        if key in self.pool.held:
            return self.pool.held[key], ""
        for previous in _ingress_ips(service):
            if self.pool.claim(key, previous):
                return previous, ""
        fresh = self.pool.claim_any(key)
        return (fresh, "") if fresh else (None, f"no addresses left in the pool "
                                                f"{self.pool.network}")

    async def _write_ingress(self, service: Obj, ips: list[str]) -> None:
        new = deepcopy_json(service)
        status = new.setdefault("status", {})
        status["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips]} \
            if ips else {}
        try:
            await self.client.update_status("services", new)
        except errors.NotFound:
            pass  # deleted meanwhile; the delete event releases the address

    async def reconcile(self, key: str) -> Requeue | None:
        if not self._adopted:
            self._adopt()
        service = self.services.get(key)
        if service is None or not wants_load_balancer(service):
            released = self.pool.release(key)
            if service is not None and any(self.pool.contains(ip) for ip in _ingress_ips(service)):
                await self._write_ingress(service, [])
            if released is not None:
                self._wake_waiting()
            return None
        ip, why = self._choose(key, service)
        if ip is None:
            self.recorder.event(service, WARNING, "AllocationFailed",
                                f"Failed to allocate a load balancer IP: {why}")
            return None
        if _ingress_ips(service) != [ip]:
            await self._write_ingress(service, [ip])
            self.recorder.event(service, NORMAL, "EnsuredLoadBalancer",
                                f"Assigned load balancer IP {ip}")
        return None
