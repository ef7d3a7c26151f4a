"""A value derived from informer caches, recomputed only after one of them changed.

Components that serve requests from the whole cluster's state -- the DNS
server's record set, the ingress controller's routing table -- need a view
that is current within a moment of any change yet cheap when nothing
changed.  Rebuilding on every event would redo the work for each pod of a
rollout; rebuilding on every request would redo it for every query.  So a
``CacheView`` only notes that its informers changed and rebuilds lazily, on
the first read after a change: the cost is one build per burst of events
that is actually observed, and a read never sees a state older than the
caches it was built from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from machinery.informer import Informer

__all__ = ["CacheView"]

T = TypeVar("T")


class CacheView(Generic[T]):
    """``build()`` over some informers' caches, memoised until one of them changes."""

    def __init__(self, informers: Iterable[Informer], build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._dirty = True
        self.generation = 0  # bumped by every change seen; tells readers to re-check
        self.builds = 0
        for informer in informers:
            informer.add_handler(self._changed, self._updated, self._changed)

    def _changed(self, _obj: Any) -> None:
        self.invalidate()

    def _updated(self, old: Any, new: Any) -> None:
        if old is new:
            return  # a periodic resync redelivers the same cached object: nothing changed
        self.invalidate()

    def invalidate(self) -> None:
        self._dirty = True
        self.generation += 1

    def get(self) -> T:
        if self._dirty or self._value is None:
            # Cleared first: a change arriving while build() runs marks it dirty again.
            self._dirty = False
            self._value = self._build()
            self.builds += 1
        return self._value
