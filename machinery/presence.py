"""Which node agents run on a node, told through Leases in ``kube-system``.

A kubelet holds a new pod's containers back until kube-proxy has written its
Service rules into the pod's network namespace, so that the app's first
connection to a ClusterIP is DNATed rather than refused.  That wait only
makes sense where a kube-proxy runs: on a node without one it would cost
every pod the whole ``--service-rules-timeout``.  So kube-proxy announces
itself with a Lease ``kube-system/kube-proxy-<node>`` (the way kubelets and
API servers announce themselves), renewed every ``period`` seconds, emptied
when it stops cleanly; the kubelet watches that one Lease.

As in leader election, the observer judges expiry by *its own* clock from
when it last saw the Lease change, never by comparing timestamps written on
another machine, so clock skew does not matter.  A kube-proxy that crashed
stops counting after ``leaseDurationSeconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.informer import DeletedFinalStateUnknown, Informer
from machinery.meta import now_micro

__all__ = ["PRESENCE_NAMESPACE", "PRESENCE_DURATION", "PRESENCE_PERIOD", "presence_lease_name",
           "PresenceAnnouncer", "PresenceObserver"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)
PRESENCE_NAMESPACE = "kube-system"
PRESENCE_DURATION = 40
PRESENCE_PERIOD = 10.0


def presence_lease_name(component: str, node: str) -> str:
    """``kube-proxy-<node>``: one Lease per component and node."""
    return f"{component}-{node}"


class PresenceAnnouncer:
    """Holds the presence Lease of one component on one node until cancelled.

    Renewal failures (API server away) are logged and retried: the Lease then
    simply expires for its observers, which is the truth.
    """

    def __init__(self, client: ApiClient, component: str, node: str, *,
                 duration: int = PRESENCE_DURATION, period: float = PRESENCE_PERIOD) -> None:
        self.client = client
        self.name = presence_lease_name(component, node)
        self.identity = self.name
        self.duration = duration
        self.period = period
        self._lease: Obj | None = None

    def _spec(self) -> Obj:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                "renewTime": now_micro()}

    async def renew(self) -> None:
        if self._lease is None:
            try:
                self._lease = await self.client.get("leases", self.name, PRESENCE_NAMESPACE)
            except errors.NotFound:
                self._lease = await self.client.create("leases", {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": PRESENCE_NAMESPACE},
                    "spec": {**self._spec(), "acquireTime": now_micro()}}, PRESENCE_NAMESPACE)
                return
        lease = self._lease
        lease["spec"] = {**(lease.get("spec") or {}), **self._spec()}
        try:
            self._lease = await self.client.update("leases", lease)
        except (errors.Conflict, errors.NotFound):
            self._lease = None  # re-read (or re-create) on the next beat
            raise

    async def release(self) -> None:
        """Empty the holder, so observers stop counting on this component at once."""
        lease = self._lease
        if lease is None:
            return
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": "",
                         "renewTime": now_micro()}
        self._lease = None
        await self.client.update("leases", lease)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.renew()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("renewing presence lease %s/%s failed: %s", PRESENCE_NAMESPACE,
                                self.name, exc)
                    await asyncio.sleep(min(self.period, 1.0))
                    continue
                await asyncio.sleep(self.period)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.release(), 2.0)


class PresenceObserver:
    """Watches one component's presence Lease on one node; ``present()`` says if it is live."""

    def __init__(self, client: ApiClient | None, component: str, node: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 informer: Informer | None = None) -> None:
        self.name = presence_lease_name(component, node)
        self.clock = clock
        self.informer = informer or Informer(client, "leases", PRESENCE_NAMESPACE,
                                             field_selector=f"metadata.name={self.name}")
        self.informer.add_handler(on_add=self.observe,
                                  on_update=lambda _old, new: self.observe(new),
                                  on_delete=self._deleted)
        self._spec: tuple[Any, ...] | None = None
        self._seen_at = 0.0
        self._duration = 0.0

    def observe(self, lease: Obj) -> None:
        """A Lease version arrived: a changed holder or renewTime counts as a heartbeat."""
        if (lease.get("metadata") or {}).get("name") != self.name:
            return
        spec = lease.get("spec") or {}
        key = (spec.get("holderIdentity"), spec.get("renewTime"))
        if not spec.get("holderIdentity"):
            self._spec = None
            return
        if key != self._spec:
            self._spec = key
            self._seen_at = self.clock()
            self._duration = float(spec.get("leaseDurationSeconds") or PRESENCE_DURATION)

    def _deleted(self, _obj: Obj | DeletedFinalStateUnknown) -> None:
        self._spec = None

    def present(self) -> bool:
        return self._spec is not None and self.clock() - self._seen_at < self._duration

    async def start(self) -> None:
        await self.informer.start()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        return await self.informer.wait_for_sync(timeout)

    async def stop(self) -> None:
        await self.informer.stop()
