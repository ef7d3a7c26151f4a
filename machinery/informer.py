"""Informers: an indexed, always-current cache of one collection plus change callbacks.

Every controller reads the cluster through informers rather than by calling
the API: a ``Reflector`` keeps the ``Indexer`` in step with the server and the
informer tells registered handlers what changed.  Handlers run after the cache
is updated, synchronously and in event order; they should only enqueue keys.

Cached objects are shared by every reader of the cache: callers must
deep-copy an object (``machinery.meta.deepcopy_json``) before changing it,
or they corrupt the cache for everyone (client-go's rule too).

When a relist finds an object gone whose deletion was never seen, ``on_delete``
receives a ``DeletedFinalStateUnknown`` tombstone holding the last known state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from machinery.client import ApiClient, ResourceRef, resolve_resource
from machinery.meta import namespaced_name, split_key
from machinery.watch import ListerWatcher, Reflector, ResourceListWatch, WatchEvent
from machinery.workqueue import Clock, RealClock

__all__ = [
    "meta_key",
    "split_key",
    "namespace_index",
    "NAMESPACE_INDEX",
    "DeletedFinalStateUnknown",
    "Indexer",
    "Store",
    "Handler",
    "Informer",
    "SharedInformerFactory",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
NAMESPACE_INDEX = "namespace"


def meta_key(obj: Obj) -> str:
    """The cache key: ``namespace/name``, or ``name`` for cluster-scoped objects."""
    return namespaced_name(obj)


def namespace_index(obj: Obj) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """A deletion noticed only by relisting; ``obj`` is the last state the cache held."""

    key: str
    obj: Obj


class Indexer:
    """A thread-unsafe (asyncio-only) keyed store with secondary indexes."""

    def __init__(self, key_func: Callable[[Obj], str] = meta_key) -> None:
        self.key_func = key_func
        self._items: dict[str, Obj] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}

    # reads
    def get(self, key_or_obj: str | Obj) -> Obj | None:
        key = key_or_obj if isinstance(key_or_obj, str) else self.key_func(key_or_obj)
        return self._items.get(key)

    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # indexes
    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Register an index; existing items are indexed at once."""
        if name in self._index_funcs:
            raise ValueError(f"indexer {name!r} already exists")
        self._index_funcs[name] = fn
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return [self._items[key] for key in sorted(self.index_keys(name, value))]

    def index_keys(self, name: str, value: str) -> set[str]:
        if name not in self._indices:
            raise KeyError(f"no indexer named {name!r}")
        return set(self._indices[name].get(value, ()))

    def _index_one(self, name: str, key: str, obj: Obj) -> None:
        for value in self._index_funcs[name](obj):
            self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._index_funcs.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    # writes
    def add(self, obj: Obj) -> Obj | None:
        """Insert or replace; returns the previous object with that key."""
        key = self.key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._index_funcs:
            self._index_one(name, key, obj)
        return old

    update = add

    def delete(self, key_or_obj: str | Obj) -> Obj | None:
        key = key_or_obj if isinstance(key_or_obj, str) else self.key_func(key_or_obj)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old


Store = Indexer


@dataclass
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj | DeletedFinalStateUnknown], None] | None = None


class Informer:
    """Watches one collection into an ``Indexer`` and notifies handlers of changes."""

    def __init__(self, client: ApiClient | None, resource: ResourceRef, namespace: str | None = None,
                 *, label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float | None = None, clock: Clock | None = None,
                 lister_watcher: ListerWatcher | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        self.resource = resolve_resource(resource)
        self.namespace = namespace if self.resource.namespaced else None
        self.resync_period = resync_period
        self.clock: Clock = clock or RealClock()
        if lister_watcher is None:
            if client is None:
                raise ValueError("an Informer needs a client or a lister_watcher")
            lister_watcher = ResourceListWatch(client, self.resource, self.namespace,
                                               label_selector=label_selector,
                                               field_selector=field_selector)
        self.indexer = Indexer()
        self.indexer.add_indexer(NAMESPACE_INDEX, namespace_index)
        self.reflector = Reflector(lister_watcher, self, clock=self.clock, rand=rand,
                                   name=f"informer {self.resource.qualified}")
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def store(self) -> Indexer:
        return self.indexer

    # cache reads, for convenience
    def get(self, key: str) -> Obj | None:
        return self.indexer.get_by_key(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return self.indexer.list()
        return self.indexer.by_index(NAMESPACE_INDEX, namespace)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.indexer.add_indexer(name, fn)

    def add_handler(self, on_add: Callable[[Obj], None] | None = None,
                    on_update: Callable[[Obj, Obj], None] | None = None,
                    on_delete: Callable[[Obj | DeletedFinalStateUnknown], None] | None = None,
                    ) -> Handler:
        """Register callbacks; a late handler first gets ``on_add`` for every cached object."""
        handler = Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.indexer.list():
                self._call(handler.on_add, obj)
        return handler

    def remove_handler(self, handler: Handler) -> None:
        self._handlers.remove(handler)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # one broken handler must not stop the cache
            log.exception("informer %s: handler %r failed", self.resource.qualified, fn)

    def _notify_add(self, obj: Obj) -> None:
        for handler in list(self._handlers):
            if handler.on_add is not None:
                self._call(handler.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for handler in list(self._handlers):
            if handler.on_update is not None:
                self._call(handler.on_update, old, new)

    def _notify_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for handler in list(self._handlers):
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    # Sink: fed by the reflector
    def replace(self, objects: list[Obj], resource_version: str) -> None:
        fresh = {self.indexer.key_func(obj): obj for obj in objects}
        for key in [k for k in self.indexer.keys() if k not in fresh]:
            old = self.indexer.delete(key)
            if old is not None:
                self._notify_delete(DeletedFinalStateUnknown(key, old))
        for obj in fresh.values():
            old = self.indexer.add(obj)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        self._synced.set()

    def apply(self, event: WatchEvent) -> None:
        obj = event["object"]
        if event["type"] == "DELETED":
            self.indexer.delete(obj)
            self._notify_delete(obj)  # the event carries the final state
            return
        old = self.indexer.add(obj)
        if old is None:
            self._notify_add(obj)
        else:
            self._notify_update(old, obj)

    # lifecycle
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._synced.wait(), timeout)
        return self.has_synced()

    async def start(self) -> None:
        """Begin listing and watching in a background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"informer-{self.resource.qualified}")

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        if not self.resync_period:
            await self.reflector.run()
            return
        async with asyncio.TaskGroup() as group:
            group.create_task(self.reflector.run())
            group.create_task(self._resync_loop(self.resync_period))

    async def _resync_loop(self, period: float) -> None:
        """Re-deliver every cached object as an update, so controllers re-check periodically."""
        while True:
            await self.clock.sleep(period)
            if self.has_synced():
                for obj in self.indexer.list():
                    self._notify_update(obj, obj)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SharedInformerFactory:
    """Hands out one informer per (resource, namespace, selectors), shared by all users."""

    def __init__(self, client: ApiClient, *, resync_period: float | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.resync_period = resync_period
        self.clock = clock
        self._informers: dict[tuple[str, str, str | None, str | None, str | None], Informer] = {}

    def informer(self, resource: ResourceRef, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float | None = None) -> Informer:
        res = resolve_resource(resource)
        key = (res.group, res.plural, namespace if res.namespaced else None,
               label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, res, namespace, label_selector=label_selector,
                                field_selector=field_selector,
                                resync_period=resync_period or self.resync_period,
                                clock=self.clock)
            self._informers[key] = informer
        return informer

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def start(self) -> None:
        """Start every informer not yet running (call again after adding informers)."""
        for informer in self._informers.values():
            await informer.start()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        waits = [informer.wait_for_sync() for informer in self._informers.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        return all(informer.has_synced() for informer in self._informers.values())

    async def start_and_sync(self, log: logging.Logger, waiting: str, *,
                             every: float = 10.0) -> None:
        """Start every informer, then return once all have synced, logging ``waiting`` meanwhile.

        A component must not act on, or answer from, a cache still filling (it
        would read as "nothing exists"); the line every ``every`` seconds tells
        an operator what a slow start is waiting for.
        """
        await self.start()
        while not await self.wait_for_sync(every):
            log.info(waiting)

    async def stop(self) -> None:
        await asyncio.gather(*(informer.stop() for informer in self._informers.values()))
