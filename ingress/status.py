"""Ingress status and the controller's IngressClass.

``StatusController`` writes the address the proxy is published on into
``status.loadBalancer.ingress`` of every Ingress this controller serves, as
a cloud controller writes its load balancer's -- that is what ``kubectl get
ingress`` shows in ADDRESS and what tools wait for.  It is keyed and
level-triggered like any controller: informer events enqueue
``namespace/name``, a worker compares the cached status with the desired one
and writes ``/status`` only when they differ (from a deep copy, never the
cached dict).  An IngressClass change can make any Ingress ours, so it
enqueues them all.

``ensure_ingress_class`` creates the class ``k8py`` at startup, marked as
the cluster's default, so Ingresses without ``ingressClassName`` are served;
an existing class of that name is left as its owner edited it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from ingress.routes import CONTROLLER, DEFAULT_CLASS_ANNOTATION, our_classes, is_ours
from machinery import errors
from machinery.client import ApiClient
from machinery.informer import DeletedFinalStateUnknown, Informer, meta_key
from machinery.meta import deepcopy_json
from machinery.reconciler import Requeue, run_workers
from machinery.workqueue import RateLimitingQueue

__all__ = ["StatusController", "ensure_ingress_class", "load_balancer_entry"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def load_balancer_entry(address: str) -> Obj:
    """``{"ip": ...}`` for an address, ``{"hostname": ...}`` for a name."""
    try:
        return {"ip": str(ipaddress.ip_address(address))}
    except ValueError:
        return {"hostname": address}


async def ensure_ingress_class(client: ApiClient, name: str = "k8py",
                               controller: str = CONTROLLER) -> None:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": controller}}
    try:
        await client.create("ingressclasses", body)
        log.info("created the default IngressClass %s (controller %s)", name, controller)
    except errors.AlreadyExists:
        pass


class StatusController:
    """Keeps ``status.loadBalancer.ingress`` of our Ingresses on the published address."""

    def __init__(self, client: ApiClient, ingresses: Informer, classes: Informer,
                 address: str, *, controller: str = CONTROLLER) -> None:
        self.client = client
        self.ingresses = ingresses
        self.classes = classes
        self.controller = controller
        self.desired = [load_balancer_entry(address)]
        self.queue: RateLimitingQueue[str] = RateLimitingQueue()
        ingresses.add_handler(self._enqueue, lambda _old, new: self._enqueue(new), self._enqueue)
        classes.add_handler(self.enqueue_all, lambda _old, _new: self.enqueue_all(None),
                            self.enqueue_all)

    def _enqueue(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.queue.add(obj.key if isinstance(obj, DeletedFinalStateUnknown) else meta_key(obj))

    def enqueue_all(self, _obj: object = None) -> None:
        """Queue every Ingress: a class change (or a resync) may change which are ours."""
        for ingress in self.ingresses.list():
            self.queue.add(meta_key(ingress))

    async def reconcile(self, key: str) -> Requeue | None:
        ingress = self.ingresses.get(key)
        if ingress is None:
            return None
        names, default = our_classes(self.classes.list(), self.controller)
        if not is_ours(ingress, names, default):
            return None
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if current == self.desired:
            return None
        updated = deepcopy_json(ingress)
        updated.setdefault("status", {})["loadBalancer"] = {"ingress": self.desired}
        try:
            await self.client.update_status("ingresses", updated)
        except errors.NotFound:
            return None  # deleted meanwhile
        log.info("ingress %s published on %s", key, self.desired)
        return None

    async def run(self, workers: int = 1) -> None:
        try:
            await run_workers(self.queue, self, workers, name="ingress-status", logger=log)
        finally:
            self.queue.shutdown()
