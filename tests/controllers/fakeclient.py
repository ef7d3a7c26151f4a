"""A recording stand-in for ``ApiClient`` for controller unit tests.

Like client-go's fake clientset it keeps objects in memory and records every
call as an ``Action``, so a test asserts exactly what a reconcile wrote.  It
applies the API server's rules a controller depends on (resourceVersion
preconditions, finalizers and propagation policies on delete, the status and
finalize subresources, generateName) and mirrors every write into the
informer stores of an attached ``SharedInformerFactory``, so a second
reconcile sees the world the first one left behind -- the idempotency tests
rely on that.  Writes reach the caches as watch events, so informer handlers
run (and enqueue) as they would against a real server.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from controllers.manager import ControllerContext
from machinery import errors
from machinery.client import ResourceRef, resolve_resource
from machinery.informer import SharedInformerFactory
from machinery.meta import deepcopy_json
from machinery.resources import Resource, by_kind
from machinery.selectors import parse_label_selector
from machinery.workqueue import FakeClock

Obj = dict[str, Any]
READS = frozenset({"get", "list"})


@dataclass
class Action:
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None = None
    body: Any = None
    options: dict[str, Any] = field(default_factory=dict)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deepcopy_json(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _owner_references_by_uid(current: Obj, patch: Obj) -> Obj:
    """Strategic merge for the one list controllers patch that way: ownerReferences by uid.

    Adoption adds a reference and release sends ``{"$patch": "delete", "uid": ...}``;
    other references stay.  The patch's ``metadata.uid`` is a precondition.
    """
    meta = patch.get("metadata") or {}
    if meta.get("uid") not in (None, current["metadata"].get("uid")):
        raise errors.Invalid("metadata.uid: Invalid value: the uid in the patch does not match")
    if "ownerReferences" not in meta:
        return patch
    refs = {r["uid"]: r for r in current["metadata"].get("ownerReferences") or []}
    for ref in meta["ownerReferences"]:
        if ref.get("$patch") == "delete":
            refs.pop(ref["uid"], None)
        else:
            refs[ref["uid"]] = {**refs.get(ref["uid"], {}), **ref}
    merged = dict(meta, ownerReferences=list(refs.values()) or None)
    merged.pop("uid", None)
    return dict(patch, metadata=merged)


class FakeClient:
    """In-memory objects plus a log of every request made."""

    def __init__(self, factory: SharedInformerFactory | None = None) -> None:
        self.factory = factory
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.actions: list[Action] = []
        self.fail: dict[tuple[str, str], errors.ApiError] = {}
        self._rv = itertools.count(1000)
        self._uid = itertools.count(1)
        self.now = "2024-01-01T00:00:00Z"

    # -- test helpers ---------------------------------------------------------------

    def seed(self, *objs: Obj) -> list[Obj]:
        """Store objects (apiVersion and kind required) in the fake and the informer caches."""
        out = []
        for obj in objs:
            res = by_kind(obj["apiVersion"], obj["kind"])
            assert res is not None, obj
            obj = deepcopy_json(obj)
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", f"uid-{meta['name']}")
            meta.setdefault("resourceVersion", str(next(self._rv)))
            meta.setdefault("creationTimestamp", self.now)
            out.append(self._store(res, obj))
        return out

    def writes(self) -> list[Action]:
        return [a for a in self.actions if a.verb not in READS]

    def stored(self, resource: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        res = resolve_resource(resource)
        return self.objects.get((res.qualified, namespace if res.namespaced else None, name))

    def _store(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        key = (res.qualified, meta.get("namespace") if res.namespaced else None, meta["name"])
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        self.objects[key] = obj
        for informer in self._informers(res, meta.get("namespace")):
            kind = "MODIFIED" if informer.indexer.get(obj) is not None else "ADDED"
            informer.apply({"type": kind, "object": deepcopy_json(obj)})
        return deepcopy_json(obj)

    def _remove(self, res: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        self.objects.pop((res.qualified, meta.get("namespace") if res.namespaced else None,
                          meta["name"]), None)
        for informer in self._informers(res, meta.get("namespace")):
            if informer.indexer.get(obj) is not None:
                informer.apply({"type": "DELETED", "object": deepcopy_json(obj)})

    def _informers(self, res: Resource, namespace: str | None) -> list[Any]:
        if self.factory is None:
            return []
        return [i for i in self.factory.informers()
                if i.resource == res and i.namespace in (None, namespace)]

    def _record(self, verb: str, res: Resource, namespace: str | None, name: str | None,
                **kw: Any) -> None:
        self.actions.append(Action(verb, res.qualified, namespace if res.namespaced else None,
                                   name, **kw))
        failure = self.fail.get((verb, res.qualified))
        if failure is not None:
            raise failure

    def _current(self, res: Resource, namespace: str | None, name: str) -> Obj:
        obj = self.objects.get((res.qualified, namespace if res.namespaced else None, name))
        if obj is None:
            raise errors.NotFound(f'{res.qualified} "{name}" not found', name=name,
                                  kind=res.plural)
        return obj

    @staticmethod
    def _check_rv(res: Resource, current: Obj, wanted: object) -> None:
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise errors.Conflict(f'Operation cannot be fulfilled on {res.qualified} '
                                  f'"{current["metadata"]["name"]}": the object has been modified')

    def _write(self, res: Resource, obj: Obj) -> Obj:
        """Store an update, or finish a deletion whose finalizers are all gone."""
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(self._rv))
        pending_ns = res.plural == "namespaces" and (obj.get("spec") or {}).get("finalizers")
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not pending_ns:
            self._remove(res, obj)
            return deepcopy_json(obj)
        return self._store(res, obj)

    # -- the ApiClient surface ------------------------------------------------------------

    async def get(self, resource: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        res = resolve_resource(resource)
        self._record("get", res, namespace, name, subresource=subresource)
        return deepcopy_json(self._current(res, namespace, name))

    def _select(self, res: Resource, namespace: str | None, label_selector: str | None) -> list[Obj]:
        selector = parse_label_selector(label_selector)
        return [deepcopy_json(o) for (q, ns, _), o in sorted(self.objects.items(),
                                                             key=lambda kv: str(kv[0]))
                if q == res.qualified and (namespace is None or ns == namespace)
                and selector.matches((o["metadata"].get("labels") or {}))]

    async def list(self, resource: ResourceRef, namespace: str | None = None, *,
                   label_selector: str | None = None, **_: Any) -> Obj:
        res = resolve_resource(resource)
        self._record("list", res, namespace, None)
        return {"items": self._select(res, namespace, label_selector),
                "metadata": {"resourceVersion": "1"}}

    async def list_all(self, resource: ResourceRef, namespace: str | None = None, *,
                       label_selector: str | None = None, **_: Any) -> tuple[list[Obj], str]:
        res = resolve_resource(resource)
        self._record("list", res, namespace, None)
        return self._select(res, namespace, label_selector), "1"

    async def create(self, resource: ResourceRef, obj: Obj, namespace: str | None = None,
                     **_: Any) -> Obj:
        res = resolve_resource(resource)
        obj = deepcopy_json(obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = namespace or meta.get("namespace")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{next(self._uid):05x}"
        self._record("create", res, meta.get("namespace"), meta.get("name"), body=obj)
        key = (res.qualified, meta.get("namespace") if res.namespaced else None, meta["name"])
        if key in self.objects:
            raise errors.AlreadyExists(f'{res.qualified} "{meta["name"]}" already exists',
                                       name=meta["name"])
        meta["uid"] = f"uid-new-{next(self._uid)}"
        meta["resourceVersion"] = str(next(self._rv))
        meta["creationTimestamp"] = self.now
        return self._store(res, obj)

    async def update(self, resource: ResourceRef, obj: Obj, *, subresource: str | None = None,
                     **_: Any) -> Obj:
        res = resolve_resource(resource)
        meta = obj["metadata"]
        self._record("update", res, meta.get("namespace"), meta["name"], subresource=subresource,
                     body=deepcopy_json(obj))
        current = self._current(res, meta.get("namespace"), meta["name"])
        self._check_rv(res, current, meta.get("resourceVersion"))
        new = deepcopy_json(current)
        if subresource == "status":
            new["status"] = deepcopy_json(obj.get("status"))
        elif subresource == "finalize":
            new.setdefault("spec", {})["finalizers"] = list(
                (obj.get("spec") or {}).get("finalizers") or [])
        else:
            status = new.get("status")
            new = deepcopy_json(obj)
            if res.has_status and status is not None:
                new["status"] = status
            for keep in ("uid", "creationTimestamp", "deletionTimestamp"):
                if keep in current["metadata"]:
                    new["metadata"][keep] = current["metadata"][keep]
        return self._write(res, new)

    async def update_status(self, resource: ResourceRef, obj: Obj) -> Obj:
        return await self.update(resource, obj, subresource="status")

    async def patch(self, resource: ResourceRef, name: str, patch: Any,
                    namespace: str | None = None, *, patch_type: str = "merge",
                    subresource: str | None = None, **_: Any) -> Obj:
        res = resolve_resource(resource)
        self._record("patch", res, namespace, name, subresource=subresource,
                     body=deepcopy_json(patch), options={"patch_type": patch_type})
        if patch_type not in ("merge", "strategic"):
            raise errors.UnsupportedMediaType(f"the fake client only merges, not {patch_type}")
        current = self._current(res, namespace, name)
        self._check_rv(res, current, (patch.get("metadata") or {}).get("resourceVersion"))
        if patch_type == "strategic":
            patch = _owner_references_by_uid(current, patch)
        return self._write(res, _merge(current, patch))

    async def delete(self, resource: ResourceRef, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None,
                     preconditions: dict[str, Any] | None = None, **_: Any) -> Obj:
        res = resolve_resource(resource)
        options = {k: v for k, v in (("propagationPolicy", propagation_policy),
                                     ("preconditions", preconditions)) if v}
        self._record("delete", res, namespace, name, options=options)
        current = self._current(res, namespace, name)
        if preconditions and preconditions.get("uid") not in (None, current["metadata"]["uid"]):
            raise errors.Conflict("Precondition failed: UID in precondition")
        new = deepcopy_json(current)
        meta = new["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        wanted = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(
            propagation_policy or "")
        if wanted and wanted not in finalizers:
            finalizers.append(wanted)
        if finalizers:
            meta["finalizers"] = finalizers
        meta.setdefault("deletionTimestamp", self.now)
        if res.plural == "namespaces":
            new.setdefault("status", {})["phase"] = "Terminating"
        return self._write(res, new)

    async def delete_collection(self, resource: ResourceRef, namespace: str | None = None, *,
                                label_selector: str | None = None, **_: Any) -> Obj:
        res = resolve_resource(resource)
        self._record("deletecollection", res, namespace, None)
        for obj in self._select(res, namespace, label_selector):
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self.now
                self._write(res, obj)
        return {"kind": "Status", "status": "Success"}


class FakeRecorder:
    """Collects ``(type, reason, message, object name)`` instead of writing Events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, **_: Any) -> None:
        self.events.append((type_, reason, message, str((obj.get("metadata") or {}).get("name"))))


class FakeBroadcaster:
    def __init__(self) -> None:
        self.recorders: dict[str, FakeRecorder] = {}

    def recorder(self, component: str, host: str = "") -> FakeRecorder:
        return self.recorders.setdefault(component, FakeRecorder())


def wall_of(clock: FakeClock, start: datetime | None = None) -> Any:
    """A wall clock that moves with ``clock``."""
    base = start or datetime(2024, 1, 1, tzinfo=timezone.utc)

    def wall() -> datetime:
        return base + timedelta(seconds=clock.now())

    return wall


def fake_context(**options: Any) -> tuple[ControllerContext, FakeClient, FakeClock]:
    """A controller context over a fresh fake client, shared informers and a fake clock."""
    clock = FakeClock()
    client = FakeClient()
    factory = SharedInformerFactory(client, clock=clock)  # type: ignore[arg-type]
    client.factory = factory
    ctx = ControllerContext(client=client, informers=factory,  # type: ignore[arg-type]
                            events=FakeBroadcaster(),  # type: ignore[arg-type]
                            options=argparse.Namespace(**options), clock=clock,
                            wall=wall_of(clock))
    return ctx, client, clock


async def drain(controller: Any, limit: int = 100) -> list[str]:
    """Reconcile queued keys until the queue is empty; the keys processed, in order.

    Timed requeues are ignored and errors propagate, so a test sees them.
    """
    processed: list[str] = []
    while len(controller.queue) and len(processed) < limit:
        key = await controller.queue.get()
        try:
            await controller.reconcile(key)
        finally:
            controller.queue.done(key)
        processed.append(key)
    return processed
