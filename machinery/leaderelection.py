"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it.

Replicated control-plane components (scheduler, controller manager) run the
same code on several machines; only the holder of a Lease acts.  The holder
renews the Lease every ``retry_period``; if it cannot renew for
``renew_deadline`` it stops leading (its leading task is cancelled) before
``lease_duration`` runs out, so two leaders never act at once.  Candidates
judge expiry by *their own* clock from when they last saw the Lease change,
never by comparing timestamps written by another machine, so clock skew
between machines does not matter.

Writes use the Lease's resourceVersion: of several candidates racing for an
expired Lease, the API server lets exactly one update win (the rest get 409).
A leader that stops cleanly empties ``holderIdentity`` so a standby takes over
at once instead of waiting out the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from machinery import errors
from machinery.client import ApiClient
from machinery.meta import format_micro_time
from machinery.workqueue import Clock, RealClock

__all__ = ["LeaderElector", "JITTER_FACTOR"]

# client-go's retry jitter; renew_deadline must exceed retry_period by this factor.
JITTER_FACTOR = 1.2

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LeaderElector:
    """Campaigns for one Lease and runs a coroutine while holding it."""

    def __init__(self, client: ApiClient, *, lock_name: str, lock_namespace: str = "kube-system",
                 identity: str, lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0, clock: Clock | None = None,
                 wall: Callable[[], datetime] = _utcnow,
                 rand: Callable[[], float] = random.random,
                 logger: logging.Logger | None = None) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError(f"renew_deadline must be greater than retry_period*{JITTER_FACTOR}")
        if min(lease_duration, renew_deadline, retry_period) <= 0:
            raise ValueError("lease_duration, renew_deadline and retry_period must be positive")
        if not identity:
            raise ValueError("identity must not be empty")
        if not lock_name:
            raise ValueError("lock_name must not be empty")
        self.client = client
        self.lock_name = lock_name
        self.lock_namespace = lock_namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock: Clock = clock or RealClock()
        self.wall = wall
        self.rand = rand
        self.log = logger or log
        self._leader = False
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0

    def is_leader(self) -> bool:
        return self._leader

    @property
    def holder(self) -> str | None:
        """The holder last seen on the Lease (None before the first look or when free)."""
        if self._observed_spec is None:
            return None
        return self._observed_spec.get("holderIdentity") or None

    def _observe(self, spec: dict[str, Any]) -> None:
        if spec != self._observed_spec:
            self._observed_spec = copy.deepcopy(spec)
            self._observed_at = self.clock.now()

    def _held_by_other(self, spec: dict[str, Any]) -> bool:
        holder = spec.get("holderIdentity")
        if not holder or holder == self.identity:
            return False
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        return self._observed_at + duration > self.clock.now()

    def _our_spec(self, previous: dict[str, Any]) -> dict[str, Any]:
        now = format_micro_time(self.wall())
        spec = dict(previous)
        if previous.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(previous.get("leaseTransitions") or 0) + (
                1 if previous else 0)
        spec.setdefault("acquireTime", now)
        spec.setdefault("leaseTransitions", 0)
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = max(1, int(self.lease_duration))
        spec["renewTime"] = now
        return spec

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or extend the Lease; False if someone else holds it."""
        try:
            lease = await self.client.get("leases", self.lock_name, self.lock_namespace)
        except errors.NotFound:
            spec = self._our_spec({})
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.lock_name, "namespace": self.lock_namespace},
                    "spec": spec}
            try:
                await self.client.create("leases", body, self.lock_namespace)
            except (errors.AlreadyExists, errors.Conflict):
                return False
            self._observe(spec)
            return True
        spec = lease.get("spec") or {}
        self._observe(spec)
        if self._held_by_other(spec):
            return False
        lease["spec"] = self._our_spec(spec)
        try:
            await self.client.update("leases", lease)
        except errors.Conflict:
            return False  # someone else wrote first; look again next round
        self._observe(lease["spec"])
        return True

    async def _attempt(self) -> bool:
        """An attempt bounded by renew_deadline; errors count as failure, not as crashes."""
        try:
            return await asyncio.wait_for(self.try_acquire_or_renew(), self.renew_deadline)
        except (errors.ApiError, TimeoutError) as exc:
            self.log.warning("leader election %s/%s: %s", self.lock_namespace, self.lock_name,
                             exc)
            return False

    async def _acquire(self) -> None:
        while not await self._attempt():
            await self.clock.sleep(self.retry_period * (1 + JITTER_FACTOR * self.rand()))

    async def _renew(self) -> bool:
        """Keep trying every retry_period until renewed or renew_deadline has passed."""
        deadline = self.clock.now() + self.renew_deadline
        while not await self._attempt():
            remaining = deadline - self.clock.now()
            if remaining <= self.retry_period:
                await self.clock.sleep(remaining)  # still leader until the deadline itself
                return False
            await self.clock.sleep(self.retry_period)
        return True

    async def release(self) -> bool:
        """Give the Lease up if we still hold it, so a standby need not wait it out."""
        try:
            lease = await self.client.get("leases", self.lock_name, self.lock_namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return False
            now = format_micro_time(self.wall())
            lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1,
                             "acquireTime": now, "renewTime": now}
            await self.client.update("leases", lease)
        except errors.ApiError as exc:
            self.log.warning("leader election %s/%s: release failed: %s", self.lock_namespace,
                             self.lock_name, exc)
            return False
        self._observe(lease["spec"])
        return True

    async def run(self, on_started_leading: Callable[[], Awaitable[None]],
                  on_stopped_leading: Callable[[], None] | None = None) -> None:
        """Campaign, lead, and return when leadership ends.

        Leadership ends when renewal fails past renew_deadline (the leading
        task is cancelled), when the leading coroutine returns or raises (its
        exception propagates), or when ``run`` is cancelled.  In the last two
        cases the Lease is released.  ``on_stopped_leading`` runs once after
        leading, however it ended.
        """
        await self._acquire()
        self._leader = True
        self.log.info("leader election %s/%s: %s became leader", self.lock_namespace,
                      self.lock_name, self.identity)
        leading: asyncio.Task[None] = asyncio.ensure_future(on_started_leading())
        lost = False
        pause: asyncio.Future[None] | None = None
        try:
            while True:
                pause = asyncio.ensure_future(self.clock.sleep(self.retry_period))
                done, _ = await asyncio.wait({pause, leading},
                                             return_when=asyncio.FIRST_COMPLETED)
                if leading in done:
                    break
                if not await self._renew():
                    lost = True
                    self.log.error("leader election %s/%s: %s lost the lease",
                                   self.lock_namespace, self.lock_name, self.identity)
                    break
        finally:
            self._leader = False
            if pause is not None:
                pause.cancel()
            if not leading.done():
                leading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await leading  # an exception here is re-raised below
            if not lost:
                await self.release()
            if on_stopped_leading is not None:
                on_stopped_leading()
        if not leading.cancelled():
            leading.result()  # re-raise what the leading coroutine raised
