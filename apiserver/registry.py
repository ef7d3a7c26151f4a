"""The generic registry: Kubernetes object semantics on top of ``Storage``.

One class serves every resource type, as kube-apiserver's generic
``registry.Store`` does: system metadata, defaulting and validation, status
and spec separation, generation, optimistic concurrency, finalizers and
graceful deletion, dry-run, managed fields. Per-kind differences are looked up
in ``strategy``; Service IPs and ports come from ``allocator``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import orjson

from machinery import errors
from machinery.meta import now_rfc3339
from machinery.resources import Resource

from . import admission
from . import patch as patching
from . import schema as schemas
from . import strategy
from .allocator import IP_PREFIX, PORT_PREFIX, ServiceAllocator
from .defaults import apply_defaults
from .storage import Storage
from .validation import check_schema, decode_error_message, invalid_message, validate

__all__ = ["Registry", "WriteOptions"]

Obj = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "selfLink")


def _copy(obj: Obj) -> Obj:
    return orjson.loads(orjson.dumps(obj))


class WriteOptions:
    """The query parameters every write shares."""

    def __init__(self, *, dry_run: bool = False, field_manager: str = "unknown",
                 field_validation: str = "Strict", force: bool = False) -> None:
        self.dry_run = dry_run
        self.field_manager = field_manager
        self.field_validation = field_validation
        self.force = force
        self.warnings: list[str] = []


class Registry:
    def __init__(self, storage: Storage, allocator: ServiceAllocator, prefix: str = "/registry") -> None:
        self.storage = storage
        self.allocator = allocator
        self.prefix = prefix.rstrip("/")

    # -- keys ----------------------------------------------------------------

    def collection_key(self, resource: Resource, namespace: str | None = None) -> str:
        base = f"{self.prefix}/{resource.storage_group}/{resource.plural}/"
        return f"{base}{namespace}/" if resource.namespaced and namespace else base

    def key(self, resource: Resource, namespace: str | None, name: str) -> str:
        if resource.namespaced:
            return f"{self.prefix}/{resource.storage_group}/{resource.plural}/{namespace}/{name}"
        return f"{self.prefix}/{resource.storage_group}/{resource.plural}/{name}"

    # -- errors in Kubernetes' words ------------------------------------------

    @staticmethod
    def not_found(resource: Resource, name: str) -> errors.NotFound:
        return errors.NotFound(f'{resource.qualified} "{name}" not found', name=name,
                               group=resource.group, kind=resource.plural)

    @staticmethod
    def conflict(resource: Resource, name: str) -> errors.Conflict:
        return errors.Conflict(
            f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            name=name, group=resource.group, kind=resource.plural)

    # -- reads ---------------------------------------------------------------

    async def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        obj = await self.storage.get(self.key(resource, namespace, name))
        if obj is None:
            raise self.not_found(resource, name)
        return obj

    # -- preparing an incoming object ------------------------------------------

    def _check_body(self, resource: Resource, body: Any, namespace: str | None, name: str | None) -> Obj:
        if not isinstance(body, dict):
            raise errors.BadRequest(f"the body of the request was not a JSON object: got {type(body).__name__}")
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version is not None and api_version != resource.api_version:
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})")
        if kind is not None and kind != resource.kind:
            raise errors.BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")
        if resource.namespaced:
            ns = meta.get("namespace")
            if ns and namespace and ns != namespace:
                raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on the request")
            if namespace:
                meta["namespace"] = namespace
        else:
            meta.pop("namespace", None) if not meta.get("namespace") else None
        if name is not None and meta.get("name") and meta["name"] != name:
            raise errors.BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if name is not None:
            meta["name"] = name
        body["apiVersion"] = resource.api_version
        body["kind"] = resource.kind
        return body

    def _schema_check(self, resource: Resource, body: Obj, opts: WriteOptions) -> None:
        errs, warnings = check_schema(resource, body, field_validation=opts.field_validation)
        opts.warnings.extend(warnings)
        if errs:
            raise errors.BadRequest(decode_error_message(resource, errs))

    def _validate(self, resource: Resource, obj: Obj, old: Obj | None) -> None:
        causes = validate(resource, obj, old)
        if causes:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise errors.Invalid(invalid_message(resource.kind, resource.group, name, causes),
                                 name=name, group=resource.group, kind=resource.kind, causes=causes)

    def _kind_schema(self, resource: Resource) -> dict[str, Any] | None:
        return schemas.kind_schema(resource.group, resource.version, resource.kind)

    async def _reserve(self, resource: Resource, obj: Obj, old: Obj | None) -> tuple[dict[str, bytes], list[str]]:
        if resource.plural != "services":
            return {}, []
        taken_ips = {k[len(IP_PREFIX):] for k in await self.storage.keys(IP_PREFIX)}
        taken_ports = {int(k[len(PORT_PREFIX):]) for k in await self.storage.keys(PORT_PREFIX)}
        res = self.allocator.reserve(obj, old, taken_ips, taken_ports)
        return res.creates, res.deletes

    # -- create --------------------------------------------------------------

    async def create(self, resource: Resource, namespace: str | None, body: Any, opts: WriteOptions,
                     *, track_fields: bool = True) -> Obj:
        obj = self._check_body(resource, body, namespace, None)
        self._schema_check(resource, obj, opts)
        meta = obj["metadata"]
        if not meta.get("name"):
            gen = meta.get("generateName")
            if not gen:
                raise errors.Invalid(
                    f"{resource.kind}{'.' + resource.group if resource.group else ''} \"\" is invalid: "
                    "metadata.name: Required value: name or generateName is required",
                    kind=resource.kind, group=resource.group,
                    causes=[{"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
                             "field": "metadata.name"}])
            meta["name"] = str(gen)[:58] + "".join(random.choice(_NAME_CHARS) for _ in range(5))
        if resource.namespaced:
            if not meta.get("namespace"):
                raise errors.BadRequest("the server could not find the requested resource: a namespace is required")
            await admission.namespace_active(self.storage, self.prefix, meta["namespace"])
        for field in _SYSTEM_META + ("resourceVersion",):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if strategy.reset_status_on_create(resource):
            obj.pop("status", None)
        apply_defaults(resource, obj)
        strategy.add_create_finalizers(resource, obj)
        if resource.plural == "persistentvolumeclaims":
            await admission.default_storage_class(self.storage, self.prefix, obj)
        if resource.plural == "pods":
            strategy.prepare_pod_status(obj)
        self._validate(resource, obj, None)
        if track_fields:
            patching.update_managed_fields(None, obj, manager=opts.field_manager,
                                           schema=self._kind_schema(resource), now=now_rfc3339())
        for attempt in range(5):
            creates, _ = await self._reserve(resource, obj, None)
            if opts.dry_run:
                return obj
            try:
                return await self.storage.create(self.key(resource, meta.get("namespace"), meta["name"]), obj,
                                                 extra_creates=creates)
            except errors.AlreadyExists:
                raise errors.AlreadyExists(f'{resource.qualified} "{meta["name"]}" already exists',
                                           name=meta["name"], group=resource.group, kind=resource.plural) from None
            except errors.Conflict:
                if attempt == 4 or not creates:
                    raise
                if resource.plural == "services":
                    spec = obj.get("spec") or {}
                    # Another server took the value between our read and write: pick again
                    # unless the client asked for that exact value.
                    for port in spec.get("ports") or []:
                        if isinstance(port, dict) and PORT_PREFIX + str(port.get("nodePort")) in creates:
                            port.pop("nodePort", None)
                    if IP_PREFIX + str(spec.get("clusterIP")) in creates:
                        spec.pop("clusterIP", None)
                        spec.pop("clusterIPs", None)
        raise errors.InternalError("allocation kept conflicting")

    # -- update --------------------------------------------------------------

    async def update(self, resource: Resource, namespace: str | None, name: str, body: Any, opts: WriteOptions,
                     *, subresource: str | None = None, current: Obj | None = None) -> Obj:
        obj = self._check_body(resource, body, namespace, name)
        if subresource is None:
            self._schema_check(resource, obj, opts)
        if current is None:
            current = await self.storage.get(self.key(resource, namespace, name))
        if current is None:
            if subresource is None and strategy.allow_create_on_update(resource):
                return await self.create(resource, namespace, obj, opts)
            raise self.not_found(resource, name)
        want_rv = obj["metadata"].get("resourceVersion")
        cur_rv = current["metadata"]["resourceVersion"]
        if want_rv and str(want_rv) != cur_rv:
            raise self.conflict(resource, name)
        new = self._merge_update(resource, current, obj, subresource)
        return await self._write_update(resource, current, new, opts, subresource)

    def _merge_update(self, resource: Resource, current: Obj, obj: Obj, subresource: str | None) -> Obj:
        """Combine the client's object with what it may not change."""
        if subresource == "status":
            new = _copy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = obj
        meta = new["metadata"]
        cur_meta = current["metadata"]
        for field in _SYSTEM_META:
            if field in cur_meta:
                meta[field] = cur_meta[field]
            else:
                meta.pop(field, None)
        if resource.has_status:
            if "status" in current:
                new["status"] = current["status"]
            else:
                new.pop("status", None)
        return new

    async def _write_update(self, resource: Resource, current: Obj, new: Obj, opts: WriteOptions,
                            subresource: str | None, *, track_fields: bool = True) -> Obj:
        meta = new["metadata"]
        name = meta["name"]
        if subresource is None and strategy.spec_changed(current, new):
            meta["generation"] = int(current["metadata"].get("generation") or 1) + 1
        apply_defaults(resource, new)
        self._validate(resource, new, current)
        if track_fields:
            patching.update_managed_fields(current, new, manager=opts.field_manager, subresource=subresource,
                                           schema=self._kind_schema(resource), now=now_rfc3339())
        cur_rv = int(current["metadata"]["resourceVersion"])
        meta["resourceVersion"] = str(cur_rv)
        if self._same(current, new):
            return current
        if (meta.get("deletionTimestamp") and not meta.get("finalizers")
                and not int(meta.get("deletionGracePeriodSeconds") or 0) and self._finalized(resource, new)):
            if opts.dry_run:
                return new
            await self._delete_now(resource, current, cur_rv)
            return new
        creates, deletes = await self._reserve(resource, new, current) if subresource is None else ({}, [])
        if opts.dry_run:
            return new
        try:
            return await self.storage.update(self.key(resource, meta.get("namespace"), name), new, cur_rv,
                                             extra_creates=creates, extra_deletes=deletes)
        except errors.NotFound:
            raise self.not_found(resource, name) from None
        except errors.Conflict as exc:
            if "allocated" in exc.message:
                raise
            raise self.conflict(resource, name) from None

    @staticmethod
    def _same(a: Obj, b: Obj) -> bool:
        """A no-op write leaves the object and its resourceVersion alone, as in Kubernetes."""
        def strip(o: Obj) -> Obj:
            m = {k: v for k, v in (o.get("metadata") or {}).items() if k not in ("managedFields", "resourceVersion")}
            return {**o, "metadata": m}
        return strip(a) == strip(b)

    @staticmethod
    def _finalized(resource: Resource, obj: Obj) -> bool:
        if resource.plural == "namespaces":
            return not (obj.get("spec") or {}).get("finalizers")
        return True

    # -- patch ---------------------------------------------------------------

    async def patch(self, resource: Resource, namespace: str | None, name: str, patch: Any, patch_type: str,
                    opts: WriteOptions, *, subresource: str | None = None) -> Obj:
        kind_schema = self._kind_schema(resource)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        attempt = 0
        while True:
            attempt += 1
            current = await self.storage.get(self.key(resource, namespace, name))
            pinned: Any = None
            try:
                if patch_type == "apply":
                    return await self._apply(resource, namespace, name, patch, current, opts, subresource)
                if current is None:
                    raise self.not_found(resource, name)
                patched = self._patched(current, patch, patch_type, kind_schema)
                pinned = patched["metadata"].get("resourceVersion")
                if pinned is None:
                    patched["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                return await self.update(resource, namespace, name, patched, opts, subresource=subresource,
                                         current=current)
            except errors.Conflict as exc:
                # A patch carries no precondition unless it sets one, so a race with another
                # writer is retried on fresh state, as kube-apiserver's GuaranteedUpdate does.
                if (pinned is not None or "allocated" in exc.message or exc.causes
                        or loop.time() > deadline):
                    raise
                await asyncio.sleep(min(0.002 * attempt, 0.05))

    @staticmethod
    def _patched(current: Obj, patch: Any, patch_type: str, kind_schema: dict[str, Any] | None) -> Obj:
        base = _copy(current)
        if patch_type == "json":
            patched = patching.apply_json_patch(base, patch)
        elif patch_type == "merge":
            patched = patching.apply_merge_patch(base, patch)
        elif patch_type == "strategic":
            patched = patching.apply_strategic_merge_patch(base, patch, kind_schema)
        else:
            raise errors.UnsupportedMediaType(f"the patch type {patch_type} is not supported")
        if not isinstance(patched, dict):
            raise errors.BadRequest("the patch did not produce an object")
        patched.setdefault("metadata", {})
        if not isinstance(patched["metadata"], dict):
            raise errors.BadRequest("metadata must be an object")
        return patched

    async def _apply(self, resource: Resource, namespace: str | None, name: str, applied: Any,
                     current: Obj | None, opts: WriteOptions, subresource: str | None) -> Obj:
        applied = self._check_body(resource, applied, namespace, name)
        if subresource is None:
            self._schema_check(resource, applied, opts)
        result = patching.server_side_apply(
            current, applied, manager=opts.field_manager, force=opts.force,
            schema=self._kind_schema(resource), now=now_rfc3339())
        # server_side_apply has recorded field ownership already: keep it as computed.
        if current is None:
            return await self.create(resource, namespace, result, WriteOptions(
                dry_run=opts.dry_run, field_manager=opts.field_manager, field_validation="Ignore"),
                track_fields=False)
        new = self._merge_update(resource, current, result, subresource)
        new["metadata"]["managedFields"] = result.get("metadata", {}).get("managedFields", [])
        return await self._write_update(resource, current, new, opts, subresource, track_fields=False)

    # -- delete --------------------------------------------------------------

    async def delete(self, resource: Resource, namespace: str | None, name: str, options: Obj,
                     *, dry_run: bool = False) -> Obj:
        for _ in range(8):
            current = await self.get(resource, namespace, name)
            try:
                return await self._delete_once(resource, current, options, dry_run)
            except errors.Conflict as exc:
                if exc.message.startswith("Precondition failed"):
                    raise
                continue
        raise self.conflict(resource, name)

    async def _delete_once(self, resource: Resource, current: Obj, options: Obj, dry_run: bool) -> Obj:
        meta = current["metadata"]
        name = meta["name"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise errors.Conflict(
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
                name=name, group=resource.group, kind=resource.plural)
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta["resourceVersion"]:
            raise errors.Conflict(
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
                name=name, group=resource.group, kind=resource.plural)
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.Invalid(f'propagationPolicy: Unsupported value: "{policy}"', causes=[{
                "reason": "FieldValueNotSupported", "field": "propagationPolicy",
                "message": f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'}])
        new = _copy(current)
        nmeta = new["metadata"]
        finalizers = list(nmeta.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers = [f for f in finalizers if f != "orphan"] + ["foregroundDeletion"]
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers = [f for f in finalizers if f != "foregroundDeletion"] + ["orphan"]
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        grace = strategy.graceful_seconds(resource, current, options.get("gracePeriodSeconds"))
        pending_ns = resource.plural == "namespaces" and bool((current.get("spec") or {}).get("finalizers"))
        rv = int(meta["resourceVersion"])
        if not finalizers and grace == 0 and not pending_ns:
            if not dry_run:
                await self._delete_now(resource, current, rv)
            return current
        if nmeta.get("deletionTimestamp"):
            old_grace = nmeta.get("deletionGracePeriodSeconds")
            if (finalizers == list(meta.get("finalizers") or [])
                    and (old_grace is None or grace >= int(old_grace))):
                return current
        if not nmeta.get("deletionTimestamp") or grace < int(nmeta.get("deletionGracePeriodSeconds") or 0):
            nmeta["deletionTimestamp"] = now_rfc3339() if grace == 0 else _later(grace)
            nmeta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            nmeta["finalizers"] = finalizers
        else:
            nmeta.pop("finalizers", None)
        if resource.plural == "namespaces":
            new.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return new
        try:
            return await self.storage.update(self.key(resource, nmeta.get("namespace"), name), new, rv)
        except errors.NotFound:
            raise self.not_found(resource, name) from None

    async def _delete_now(self, resource: Resource, current: Obj, rv: int) -> None:
        meta = current["metadata"]
        extra = ServiceAllocator.release(current) if resource.plural == "services" else []
        try:
            await self.storage.delete(self.key(resource, meta.get("namespace"), meta["name"]), rv,
                                      extra_deletes=extra)
        except errors.NotFound:
            raise self.not_found(resource, meta["name"]) from None
        except errors.Conflict:
            raise self.conflict(resource, meta["name"]) from None

    # -- subresources ----------------------------------------------------------

    async def bind(self, namespace: str, name: str, binding: Any, opts: WriteOptions) -> None:
        """pods/binding: set spec.nodeName once, as the scheduler's only write."""
        from machinery.resources import by_plural
        pods = by_plural("", "v1", "pods")
        assert pods is not None
        if not isinstance(binding, dict) or not isinstance(binding.get("target"), dict) or not binding["target"].get("name"):
            raise errors.Invalid("Binding is invalid: target.name: Required value", causes=[
                {"reason": "FieldValueRequired", "message": "Required value", "field": "target.name"}])
        node = binding["target"]["name"]
        for _ in range(8):
            pod = await self.get(pods, namespace, name)
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.Conflict(f"pod {name} is being deleted, cannot be assigned to a host",
                                      name=name, kind="pods")
            current_node = (pod.get("spec") or {}).get("nodeName")
            if current_node:
                raise errors.Conflict(f"pod {name} is already assigned to node \"{current_node}\"",
                                      name=name, kind="pods")
            new = _copy(pod)
            new["spec"]["nodeName"] = node
            conds = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": now_rfc3339()})
            new.setdefault("status", {})["conditions"] = conds
            if opts.dry_run:
                return
            try:
                await self.storage.update(self.key(pods, namespace, name), new, int(pod["metadata"]["resourceVersion"]))
                return
            except errors.Conflict:
                continue
        raise self.conflict(pods, name)


def _later(seconds: int) -> str:
    import datetime as _dt
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
