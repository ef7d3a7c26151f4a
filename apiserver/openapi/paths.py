"""``paths`` for OpenAPI v3 documents: the REST operations of each resource.

kubectl reads these operations, not just the schemas. ``apply`` looks for a
PATCH operation tagged with the object's ``x-kubernetes-group-version-kind``
that lists a ``fieldValidation`` query parameter, and only then leaves
validation to the server; it also checks that the PATCH accepts
``application/strategic-merge-patch+json`` before computing such a patch from
these documents. ``explain`` finds a resource's kind through the GVK of the
operations on its collection or object path.
"""

from __future__ import annotations

from typing import Any

from machinery.resources import Resource

from apiserver import schema
from apiserver.discovery import subresource
from apiserver.openapi.components import schema_ref

__all__ = ["resource_paths", "group_version_root", "META"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."

_JSON_TYPES = ("application/json", "application/yaml")
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_UNAUTHORIZED = {"401": {"description": "Unauthorized"}}


def _param(name: str, kind: str, description: str, where: str = "query") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "description": description, "schema": {"type": kind}}
    if where == "path":
        param["required"] = True
    return param


_P = {
    p["name"]: p
    for p in (
        _param("allowWatchBookmarks", "boolean", "Ask a watch for BOOKMARK events carrying the latest resourceVersion."),
        _param("continue", "string", "The token from a previous page of results, to fetch the next page."),
        _param("dryRun", "string", "When set to All, validate and admit the request but persist nothing."),
        _param("fieldManager", "string", "The name of the actor making the change, recorded in managedFields."),
        _param(
            "fieldValidation",
            "string",
            "How to treat unknown or duplicate fields in the body: Ignore, Warn or Strict.",
        ),
        _param("fieldSelector", "string", "Only objects whose fields match this selector."),
        _param("force", "boolean", "Apply requests only: take over fields owned by other managers."),
        _param("gracePeriodSeconds", "integer", "Seconds to wait before the object is deleted; 0 deletes at once."),
        _param(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "Delete an object even when it cannot be read back from storage.",
        ),
        _param("labelSelector", "string", "Only objects whose labels match this selector."),
        _param("limit", "integer", "The largest number of objects to return in one page."),
        _param("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
        _param("pretty", "string", "Pretty-print the output when set to true."),
        _param("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."),
        _param("resourceVersion", "string", "The resourceVersion a read or watch is served from."),
        _param("resourceVersionMatch", "string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
        _param("sendInitialEvents", "boolean", "Start a watch with synthetic events for the current state."),
        _param("timeoutSeconds", "integer", "End a list or watch call after this many seconds."),
        _param("watch", "boolean", "Stream add, update and delete events instead of returning a list."),
        _param("container", "string", "The container to use; optional for a single-container pod."),
        _param("follow", "boolean", "Keep streaming the log as it grows."),
        _param("insecureSkipTLSVerifyBackend", "boolean", "Skip verifying the kubelet's serving certificate."),
        _param("limitBytes", "integer", "Stop after this many bytes of log."),
        _param("previous", "boolean", "The log of the previous, terminated instance of the container."),
        _param("sinceSeconds", "integer", "Only log lines newer than this many seconds."),
        _param("tailLines", "integer", "Only this many lines from the end of the log."),
        _param("timestamps", "boolean", "Prefix every log line with its RFC 3339 timestamp."),
        _param("command", "string", "The command to run, one argument per parameter."),
        _param("stdin", "boolean", "Attach the standard input stream."),
        _param("stdout", "boolean", "Attach the standard output stream."),
        _param("stderr", "boolean", "Attach the standard error stream."),
        _param("tty", "boolean", "Allocate a terminal."),
        _param("ports", "integer", "The container ports to forward."),
        _param("path", "string", "The path to send the proxied request to."),
    )
}


def _params(*names: str) -> list[dict[str, Any]]:
    return [dict(_P[name]) for name in names]


_LIST = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
         "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_DELETE = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
           "orphanDependents", "propagationPolicy")
_DELETE_COLLECTION = tuple(sorted(set(_DELETE) | set(_LIST) - {"allowWatchBookmarks", "watch"}))
_LOG = ("container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous", "sinceSeconds",
        "tailLines", "timestamps")
_CONNECT_PARAMS = {
    "exec": ("command", "container", "stderr", "stdin", "stdout", "tty"),
    "attach": ("container", "stderr", "stdin", "stdout", "tty"),
    "portforward": ("ports",),
    "proxy": ("path",),
}


def _content(definition: str | None, types: tuple[str, ...] = _JSON_TYPES) -> dict[str, Any]:
    body = schema_ref(definition) if definition else {"type": "string"}
    return {media: {"schema": dict(body)} for media in types}


def _responses(definition: str | None, codes: tuple[str, ...], types: tuple[str, ...] = _JSON_TYPES) -> dict[str, Any]:
    described = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: dict[str, Any] = {code: {"description": described[code], "content": _content(definition, types)}
                           for code in codes}
    out.update(_UNAUTHORIZED)
    return out


def _naming(group: str, version: str) -> tuple[str, str]:
    """The tag (``apps_v1``) and operation-id infix (``AppsV1``) of a group-version."""
    first = group.split(".")[0] if group else "core"
    return f"{first}_{version}", first[:1].upper() + first[1:] + version[:1].upper() + version[1:]


class _Ops:
    """Builds the operations of one resource with consistent ids, tags and GVKs."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.tag, self.id_part = _naming(resource.group, resource.version)
        self.kind_def = schema.definition_name(resource.group, resource.version, resource.kind)
        self.list_def = schema.definition_name(resource.group, resource.version, resource.list_kind)

    def op(self, verb: str, action: str, subject: str, gvk: dict[str, str], *, params: tuple[str, ...] = (),
           responses: dict[str, Any], body: dict[str, Any] | None = None, what: str) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "tags": [self.tag],
            "description": what,
            "operationId": f"{verb}{self.id_part}{subject}",
            "parameters": _params(*params),
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": dict(gvk),
        }
        if body is not None:
            operation["requestBody"] = body
        if not operation["parameters"]:
            del operation["parameters"]
        return operation

    def writes(self, subject: str, gvk: dict[str, str], definition: str | None, noun: str) -> dict[str, Any]:
        """GET, PUT and PATCH on an object or an object-shaped subresource."""
        body_json = {"content": _content(definition), "required": True}
        body_patch = {"content": _content(META + "Patch", _PATCH_TYPES), "required": True}
        return {
            "get": self.op("read", "get", subject, gvk, responses=_responses(definition, ("200",)),
                           what=f"read {noun}"),
            "put": self.op("replace", "put", subject, gvk, params=_WRITE, body=body_json,
                           responses=_responses(definition, ("200", "201")), what=f"replace {noun}"),
            "patch": self.op("patch", "patch", subject, gvk, params=(*_WRITE, "force"), body=body_patch,
                             responses=_responses(definition, ("200", "201")), what=f"partially update {noun}"),
        }


def _path_params(*names: str) -> list[dict[str, Any]]:
    descriptions = {"name": "The name of the object.", "namespace": "The namespace of the object."}
    return [_param(n, "string", descriptions[n], "path") for n in names] + _params("pretty")


def _subresource_paths(ops: _Ops, item: str, scoped: str, names: tuple[str, ...]) -> dict[str, Any]:
    resource = ops.resource
    paths: dict[str, Any] = {}
    for sub in sorted(resource.subresources):
        gvk, verbs = subresource(resource, sub)
        definition = schema.definition_name(gvk["group"], gvk["version"], gvk["kind"])
        subject = f"{scoped}{resource.kind}{sub.title().replace('forward', 'Forward')}"
        noun = f"{sub} of the specified {resource.kind}"
        entry: dict[str, Any]
        if sub in _CONNECT_PARAMS:
            entry = {
                method: ops.op("connect", "connect", f"{method.title()}{subject}", gvk, params=_CONNECT_PARAMS[sub],
                               responses=_responses(None, ("200",), ("*/*",)), what=f"connect {method} to {noun}")
                for method in (("get", "post") if sub != "proxy" else ("get", "post", "put", "patch", "delete"))
            }
        elif sub == "log":
            entry = {"get": ops.op("read", "get", subject, gvk, params=_LOG,
                                   responses=_responses(None, ("200",), ("text/plain",)), what=f"read {noun}")}
        elif "create" in verbs:
            body = {"content": _content(definition), "required": True}
            entry = {"post": ops.op("create", "post", subject, gvk, params=_WRITE, body=body,
                                    responses=_responses(definition, ("200", "201", "202")), what=f"create {noun}")}
        else:
            entry = ops.writes(subject, gvk, definition, noun)
            if "get" not in verbs:  # finalize is update-only
                entry = {"put": entry["put"]}
        paths[f"{item}/{sub}"] = {**entry, "parameters": _path_params(*names)}
    return paths


def resource_paths(resource: Resource, prefix: str) -> dict[str, Any]:
    """Every path of one resource under ``/api/v1`` or ``/apis/<group>/<version>``."""
    ops = _Ops(resource)
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    scoped = "Namespaced" if resource.namespaced else ""
    names: tuple[str, ...] = ("namespace",) if resource.namespaced else ()
    collection = f"{prefix}{'/namespaces/{namespace}' if resource.namespaced else ''}/{resource.plural}"
    item = collection + "/{name}"
    verbs = set(resource.verbs)
    kind, plural_noun = resource.kind, f"objects of kind {resource.kind}"
    list_responses = _responses(ops.list_def, ("200",), (*_JSON_TYPES, "application/json;stream=watch"))

    on_collection: dict[str, Any] = {}
    if "list" in verbs:
        on_collection["get"] = ops.op("list", "list", f"{scoped}{kind}", gvk, params=_LIST,
                                      responses=list_responses, what=f"list or watch {plural_noun}")
    if "create" in verbs:
        body = {"content": _content(ops.kind_def), "required": True}
        on_collection["post"] = ops.op("create", "post", f"{scoped}{kind}", gvk, params=_WRITE, body=body,
                                       responses=_responses(ops.kind_def, ("200", "201", "202")),
                                       what=f"create a {kind}")
    if "deletecollection" in verbs:
        body = {"content": _content(META + "DeleteOptions")}
        on_collection["delete"] = ops.op("delete", "deletecollection", f"Collection{scoped}{kind}", gvk,
                                         params=_DELETE_COLLECTION, body=body,
                                         responses=_responses(META + "Status", ("200",)),
                                         what=f"delete collection of {kind}")

    writes = ops.writes(f"{scoped}{kind}", gvk, ops.kind_def, f"the specified {kind}")
    on_item = {method: op for method, op in writes.items() if {"get": "get", "put": "update",
                                                                "patch": "patch"}[method] in verbs}
    if "delete" in verbs:
        body = {"content": _content(META + "DeleteOptions")}
        on_item["delete"] = ops.op("delete", "delete", f"{scoped}{kind}", gvk, params=_DELETE, body=body,
                                   responses=_responses(ops.kind_def, ("200", "202")), what=f"delete a {kind}")

    paths: dict[str, Any] = {}
    if on_collection:
        paths[collection] = {**on_collection, "parameters": _path_params(*names)}
    if on_item:
        paths[item] = {**on_item, "parameters": _path_params("name", *names)}
    if resource.namespaced and "list" in verbs:
        everywhere = ops.op("list", "list", f"{kind}ForAllNamespaces", gvk, params=_LIST,
                            responses=list_responses, what=f"list or watch {plural_noun} in all namespaces")
        paths[f"{prefix}/{resource.plural}"] = {"get": everywhere, "parameters": _params("pretty")}
    paths.update(_subresource_paths(ops, item, scoped, ("name", *names)))
    return paths


def group_version_root(prefix: str, group: str, version: str) -> dict[str, Any]:
    """``GET /apis/<group>/<version>/``: the group-version's resource list."""
    tag, part = _naming(group, version)
    return {
        f"{prefix}/": {
            "get": {
                "tags": [tag],
                "description": "get available resources",
                "operationId": f"get{part}APIResources",
                "responses": _responses(META + "APIResourceList", ("200",)),
            }
        }
    }
