"""Keeping a local copy of a collection current: list once, then watch.

``Reflector`` is client-go's reflector in asyncio form.  It lists (and learns
the collection's resourceVersion), then watches from that version with
bookmarks so that version keeps moving even when nothing changes.  When a
stream ends or breaks it re-watches from the last version it saw, so no event
is lost and nothing is re-listed; only when the server says that version is
gone (410 Expired) does it list again.  Errors are retried with jittered
exponential back-off, and time comes from an injected clock.

What it feeds is a ``Sink``: ``replace`` after each list, ``apply`` for each
event.  The informer's cache is the usual sink.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from machinery import errors
from machinery.workqueue import Clock, RealClock

if TYPE_CHECKING:
    from machinery.client import ApiClient, ResourceRef

__all__ = [
    "WatchEvent",
    "EventType",
    "Backoff",
    "ListerWatcher",
    "ResourceListWatch",
    "Sink",
    "Reflector",
]

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]

log = logging.getLogger(__name__)


class WatchEvent(TypedDict):
    type: EventType
    object: dict[str, Any]


class Backoff:
    """Exponential delays with jitter, as client-go's reflector uses (0.8 s .. 30 s)."""

    def __init__(self, initial: float = 0.8, maximum: float = 30.0, factor: float = 2.0,
                 jitter: float = 1.0, rand: Callable[[], float] = random.random) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.rand = rand
        self._current = initial

    def next(self) -> float:
        """The next delay; each call grows the base delay up to ``maximum``."""
        base = self._current
        self._current = min(self._current * self.factor, self.maximum)
        return min(base + base * self.jitter * self.rand(), self.maximum * (1 + self.jitter))

    def reset(self) -> None:
        self._current = self.initial


class ListerWatcher(Protocol):
    """A source that can list a collection and watch it from a version."""

    async def list(self) -> tuple[list[dict[str, Any]], str]: ...

    def watch(self, resource_version: str, timeout_seconds: int | None) -> AsyncIterator[WatchEvent]: ...


class ResourceListWatch:
    """Lists and watches one resource type (optionally one namespace and selection)."""

    def __init__(self, client: ApiClient, resource: ResourceRef, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 page_size: int = 500) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        return await self.client.list_all(
            self.resource, self.namespace, label_selector=self.label_selector,
            field_selector=self.field_selector, page_size=self.page_size)

    def watch(self, resource_version: str, timeout_seconds: int | None) -> AsyncIterator[WatchEvent]:
        return self.client.watch(
            self.resource, self.namespace, resource_version=resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector,
            allow_bookmarks=True, timeout_seconds=timeout_seconds)


class Sink(Protocol):
    """Receives a collection's state: whole lists and single changes."""

    def replace(self, objects: list[dict[str, Any]], resource_version: str) -> None: ...

    def apply(self, event: WatchEvent) -> None: ...


def _resource_version(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("resourceVersion"):
        return str(meta["resourceVersion"])
    return None


class Reflector:
    """Mirrors one ``ListerWatcher`` into one ``Sink`` until cancelled."""

    # A stream that ends this fast without a single event is treated as a
    # failure, so a misbehaving server cannot make us spin.
    MIN_WATCH_SECONDS = 1.0

    def __init__(self, lister_watcher: ListerWatcher, sink: Sink, *, name: str = "reflector",
                 clock: Clock | None = None, rand: Callable[[], float] = random.random,
                 min_watch_timeout: int = 300, logger: logging.Logger | None = None) -> None:
        self.lister_watcher = lister_watcher
        self.sink = sink
        self.name = name
        self.clock: Clock = clock or RealClock()
        self.rand = rand
        self.min_watch_timeout = min_watch_timeout
        self.log = logger or log
        self.backoff = Backoff(rand=rand)
        self.last_resource_version = ""
        self.lists = 0
        self.watches = 0

    async def _wait(self, reason: str, exc: BaseException) -> None:
        delay = self.backoff.next()
        self.log.warning("%s: %s (%s), retrying in %.1fs", self.name, reason, exc, delay)
        await self.clock.sleep(delay)

    async def _list(self) -> None:
        """List until it succeeds, then hand the result to the sink."""
        while True:
            try:
                items, version = await self.lister_watcher.list()
            except Exception as exc:
                await self._wait("list failed", exc)
                continue
            self.lists += 1
            self.last_resource_version = version
            self.sink.replace(items, version)
            self.backoff.reset()
            return

    async def _watch_once(self) -> bool:
        """Follow one stream; return False when the version has expired and a relist is due."""
        timeout = int(self.min_watch_timeout * (1 + self.rand()))
        started = self.clock.now()
        events = 0
        self.watches += 1
        try:
            stream = self.lister_watcher.watch(self.last_resource_version, timeout)
            async with contextlib.aclosing(stream):  # type: ignore[type-var]
                async for event in stream:
                    events += 1
                    version = _resource_version(event["object"])
                    if event["type"] != "BOOKMARK":
                        self.sink.apply(event)
                    if version:
                        self.last_resource_version = version
        except (errors.Expired, errors.Gone) as exc:
            self.log.info("%s: watch from %s expired (%s); relisting", self.name,
                          self.last_resource_version, exc)
            return False
        except Exception as exc:
            await self._wait("watch failed", exc)
            return True
        if events == 0 and self.clock.now() - started < self.MIN_WATCH_SECONDS:
            await self._wait("watch ended at once", RuntimeError("empty stream"))
        else:
            self.backoff.reset()
        return True

    async def run(self) -> None:
        """List, then watch and re-watch, relisting only on expiry; runs until cancelled."""
        while True:
            await self._list()
            while await self._watch_once():
                pass
