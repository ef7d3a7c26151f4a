"""Per-key exponential back-off for container restarts and image pulls.

Kubernetes' crash-loop rule, in its own terms: the first failure restarts at
once and arms a 10 s back-off; each further failure within the window doubles
it up to 5 min; a container that then runs for longer than twice the maximum
(10 min) since the last restart starts over from 10 s.  A failure is "in
back-off" while less than the current delay has passed since it happened, so
the delay counts from when the container *exited*, not from when we noticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("back-off needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Whether a failure at ``event_time`` must still wait before a retry."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            return False
        return self.clock() - event_time < entry.delay

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until a failure at ``event_time`` may be retried (0 when it may now)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            return 0.0
        return max(0.0, entry.delay - (self.clock() - event_time))

    def delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def next(self, key: str, event_time: float) -> None:
        """Record a retry of a failure at ``event_time``, growing the key's delay."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            self._entries[key] = _Entry(self.initial, self.clock())
            return
        entry.delay = min(entry.delay * 2, self.maximum)
        entry.last_update = self.clock()

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key of one pod (keys start with its uid) once the pod is gone."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self) -> None:
        """Drop entries idle for longer than twice the maximum, as they would reset anyway."""
        now = self.clock()
        for key in [k for k, e in self._entries.items() if now - e.last_update > 2 * self.maximum]:
            del self._entries[key]
