"""Subresources: status, scale, binding, eviction, finalize, and the kubelet proxies.

Each is a thin view over the parent object; the streaming ones (log, exec,
attach, portforward, proxy) are forwarded to the node's kubelet by
``proxy.py`` when the server has one configured.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from machinery import errors
from machinery.selectors import label_selector_from_dict

from . import patch as patching
from .registry import WriteOptions, _copy
from .wire import json_response, read_body

if TYPE_CHECKING:
    from .handlers import Target
    from .server import ApiServer

__all__ = ["Subresources"]

Obj = dict[str, Any]


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    sel_text = str(label_selector_from_dict(selector)) if isinstance(selector, dict) else ""
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": {"replicas": int(status.get("replicas") or 0), "selector": sel_text},
    }


class Subresources:
    def __init__(self, server: "ApiServer") -> None:
        self.server = server

    async def handle(self, request: Request, t: "Target") -> Response:
        from .handlers import _write_options, patch_type_or_415
        sub = t.subresource
        method = request.method
        reg = self.server.registry
        r = t.resource
        assert t.name is not None
        if sub == "status" or (sub == "finalize" and r.plural == "namespaces"):
            if method == "GET" and sub == "status":
                return json_response(await reg.get(r, t.namespace, t.name))
            if method == "PUT":
                body = await read_body(request)
                opts = _write_options(request)
                if sub == "finalize":
                    return json_response(await self._finalize(t, body, opts))
                return json_response(await reg.update(r, t.namespace, t.name, body, opts, subresource="status"),
                                     warnings=opts.warnings)
            if method == "PATCH" and sub == "status":
                ptype = patch_type_or_415(request)
                body = await read_body(request, patch=True)
                opts = _write_options(request)
                return json_response(await reg.patch(r, t.namespace, t.name, body, ptype, opts, subresource="status"))
        elif sub == "scale":
            if method == "GET":
                return json_response(_scale_of(await reg.get(r, t.namespace, t.name)))
            if method in ("PUT", "PATCH"):
                return json_response(await self._scale(request, t, method))
        elif sub == "binding" and method == "POST":
            body = await read_body(request)
            opts = _write_options(request)
            await reg.bind(t.namespace or "default", t.name, body, opts)
            return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201}, 201)
        elif sub == "eviction" and method == "POST":
            body = await read_body(request)
            options = (body or {}).get("deleteOptions") or {} if isinstance(body, dict) else {}
            await reg.delete(r, t.namespace, t.name, options)
            return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201}, 201)
        elif sub in ("log", "exec", "attach", "portforward", "proxy"):
            return await self.server.proxy.http(request, t)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _finalize(self, t: "Target", body: Any, opts: WriteOptions) -> Obj:
        """namespaces/finalize: only spec.finalizers may change; an emptied, deleted namespace goes away."""
        r = t.resource
        reg = self.server.registry
        assert t.name is not None
        current = await reg.get(r, None, t.name)
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was not a JSON object")
        new = _copy(current)
        new.setdefault("spec", {})["finalizers"] = list((body.get("spec") or {}).get("finalizers") or [])
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and str(rv) != current["metadata"]["resourceVersion"]:
            raise reg.conflict(r, t.name)
        if new["metadata"].get("deletionTimestamp") and not new["spec"]["finalizers"] \
                and not new["metadata"].get("finalizers"):
            if not opts.dry_run:
                await reg._delete_now(r, current, int(current["metadata"]["resourceVersion"]))
            return new
        if opts.dry_run:
            return new
        return await self.server.storage.update(reg.key(r, None, t.name), new,
                                                int(current["metadata"]["resourceVersion"]))

    async def _scale(self, request: Request, t: "Target", method: str) -> Obj:
        from .handlers import _write_options, patch_type_or_415
        reg = self.server.registry
        r = t.resource
        assert t.name is not None
        opts = _write_options(request)
        if method == "PATCH":
            ptype = patch_type_or_415(request)
        body = await read_body(request, patch=method == "PATCH")
        for attempt in range(200):
            if attempt:
                await asyncio.sleep(min(0.002 * attempt, 0.05))  # another writer won the race
            current = await reg.get(r, t.namespace, t.name)
            scale = _scale_of(current)
            if method == "PUT":
                new_scale = body
            elif ptype == "json":
                new_scale = patching.apply_json_patch(scale, body)
            elif ptype == "strategic" or ptype == "merge":
                new_scale = patching.apply_merge_patch(scale, body)
            else:
                raise errors.UnsupportedMediaType("apply is not supported on the scale subresource")
            if not isinstance(new_scale, dict):
                raise errors.BadRequest("the body of the request was not a JSON object")
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.Invalid(
                    f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value: {orjson.dumps(replicas).decode()}: '
                    "must be greater than or equal to 0", name=t.name, kind="Scale", group="autoscaling",
                    causes=[{"reason": "FieldValueInvalid", "field": "spec.replicas",
                             "message": "Invalid value: must be greater than or equal to 0"}])
            rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            if method == "PUT" and rv and str(rv) != current["metadata"]["resourceVersion"]:
                raise reg.conflict(r, t.name)
            new = _copy(current)
            new.setdefault("spec", {})["replicas"] = replicas
            try:
                updated = await reg.update(r, t.namespace, t.name, new, opts, current=current)
            except errors.Conflict:
                if method == "PUT" and rv:
                    raise
                continue
            return _scale_of(updated)
        raise reg.conflict(r, t.name)
