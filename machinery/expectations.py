"""Controller expectations: don't act twice on writes the cache has not seen yet.

A controller that creates three pods and reconciles again a millisecond
later would still see the old pod count in its informer cache and create
three more.  Kubernetes' answer (``pkg/controller/controller_utils.go``) is
for the controller to *expect* its own writes: before creating N pods it
records "N adds expected" under its key, the pod informer's add handler
counts them down, and the controller skips scaling while expectations are
pending.  A write whose watch event never arrives (lost, or the create
failed in a way we did not see) must not wedge the controller forever, so
expectations older than five minutes count as satisfied.

``UIDTrackingExpectations`` also remembers *which* pods it deleted, so a
deletion observed twice (an update with a deletionTimestamp, then the
delete) lowers the count only once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from machinery.workqueue import Clock, RealClock

__all__ = ["EXPECTATIONS_TIMEOUT", "Expectation", "ControllerExpectations",
           "UIDTrackingExpectations"]

EXPECTATIONS_TIMEOUT = 5 * 60.0

log = logging.getLogger(__name__)


@dataclass
class Expectation:
    add: int
    delete: int
    timestamp: float

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Pending creates and deletes per controller key."""

    def __init__(self, clock: Clock | None = None, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock: Clock = clock or RealClock()
        self.timeout = timeout
        self._store: dict[str, Expectation] = {}

    def get(self, key: str) -> Expectation | None:
        return self._store.get(key)

    def satisfied(self, key: str) -> bool:
        """Whether the controller may act: nothing pending, all seen, or expired."""
        exp = self._store.get(key)
        if exp is None:
            return True  # never set, or deleted with the controller: act on the cache
        if exp.fulfilled():
            return True
        if self.clock.now() - exp.timestamp > self.timeout:
            log.info("expectations of %s expired (add %d, del %d); resyncing", key, exp.add,
                     exp.delete)
            return True
        return False

    def set(self, key: str, add: int, delete: int) -> None:
        self._store[key] = Expectation(add, delete, self.clock.now())

    def expect_creations(self, key: str, adds: int) -> None:
        self.set(key, adds, 0)

    def expect_deletions(self, key: str, dels: int) -> None:
        self.set(key, 0, dels)

    def lower(self, key: str, add: int = 0, delete: int = 0) -> None:
        exp = self._store.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def raise_(self, key: str, add: int = 0, delete: int = 0) -> None:
        exp = self._store.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def creation_observed(self, key: str) -> None:
        self.lower(key, add=1)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        self._store.pop(key, None)


class UIDTrackingExpectations(ControllerExpectations):
    """Expectations whose deletions are tracked by the deleted objects' keys."""

    def __init__(self, clock: Clock | None = None, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        super().__init__(clock, timeout)
        self._deleting: dict[str, set[str]] = {}

    def pending_deletions(self, key: str) -> set[str]:
        return set(self._deleting.get(key, ()))

    def expect_deletions_of(self, key: str, deleted_keys: Iterable[str]) -> None:
        keys = set(deleted_keys)
        self._deleting[key] = keys
        self.expect_deletions(key, len(keys))

    def deletion_observed_of(self, key: str, deleted_key: str) -> None:
        keys = self._deleting.get(key)
        if keys is not None and deleted_key in keys:
            keys.discard(deleted_key)
            self.deletion_observed(key)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._deleting.pop(key, None)
