"""``k8py apply -f``: make the cluster match manifests, the way ``kubectl apply`` does.

Client-side (the default) keeps the applied manifest in the
``kubectl.kubernetes.io/last-applied-configuration`` annotation.  An absent
object is created with it; a present one gets the three-way patch of
``cli.threeway`` (last-applied vs manifest vs live), strategic for built-in
kinds and a JSON merge patch otherwise, so fields removed from the manifest
are removed from the object while fields others set are kept.  An empty patch
means ``unchanged``, and nothing is sent.

``--server-side`` sends the manifest as ``application/apply-patch+yaml`` and
lets the server merge and track field ownership.  Errors of one object do not
stop the others; all are reported at the end, as kubectl does.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from cli.context import Context
from cli.errors import format_error, with_source
from cli.manifests import Manifest, add_file_flags, read_manifests
from cli.printers import Output, object_name, parse_output, render_objects
from machinery.resources import resource_path

__all__ = ["register", "run", "last_applied", "LAST_APPLIED"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CSA_MANAGER = "kubectl-client-side-apply"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("apply", help="Apply a configuration to resources from files or stdin")
    add_file_flags(parser, "apply")
    add_write_flags(parser)
    parser.add_argument("--server-side", action="store_true",
                        help="let the server merge the manifest (server-side apply)")
    parser.add_argument("--force-conflicts", action="store_true",
                        help="with --server-side, take over fields other managers own")
    parser.add_argument("--field-manager", default=None,
                        help="name of the manager (default: kubectl-client-side-apply, "
                             "or k8py with --server-side)")
    parser.set_defaults(handler=run)


def add_write_flags(parser: argparse.ArgumentParser) -> None:
    """Flags apply and create share."""
    parser.add_argument("--dry-run", nargs="?", const="client", default="none",
                        choices=("none", "client", "server"),
                        help="only print what would be sent (client) or let the server check (server)")
    parser.add_argument("-o", "--output", help="name|json|yaml")
    parser.add_argument("--validate", nargs="?", const="strict", default="strict",
                        choices=("strict", "warn", "ignore", "true", "false"),
                        help="how the server treats unknown or duplicate fields")


def field_validation(args: argparse.Namespace) -> str:
    return {"strict": "Strict", "true": "Strict", "warn": "Warn"}.get(args.validate, "Ignore")


def _encode(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode() + "\n"


def last_applied(obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The object to send (annotated) and the annotation's value, as kubectl computes them:
    the manifest serialised with an empty-or-existing annotations map, minus itself."""
    modified = copy.deepcopy(obj)
    meta = modified.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    meta["annotations"] = annotations
    value = _encode(modified)
    meta["annotations"] = {**annotations, LAST_APPLIED: value}
    return modified, value


async def _send(ctx: Context, method: str, path: str, body: bytes, content_type: str,
                params: dict[str, Any]) -> dict[str, Any]:
    import orjson

    response = await ctx.client.request(method, path, params=params, content=body,
                                        content_type=content_type)
    result = orjson.loads(response.content) if response.content else {}
    return result if isinstance(result, dict) else {}


def _params(args: argparse.Namespace, manager: str) -> dict[str, Any]:
    return {"fieldManager": manager, "fieldValidation": field_validation(args),
            "dryRun": "All" if args.dry_run == "server" else None}


def _suffix(args: argparse.Namespace) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")


async def _server_side(ctx: Context, args: argparse.Namespace,
                       manifest: Manifest) -> tuple[str, dict[str, Any]]:
    import orjson

    path = resource_path(manifest.resource, manifest.namespace, manifest.name)
    params = _params(args, args.field_manager or "k8py")
    params["force"] = "true" if args.force_conflicts else "false"
    if args.dry_run == "client":
        return "serverside-applied", manifest.obj
    result = await _send(ctx, "PATCH", path, orjson.dumps(manifest.obj),
                         "application/apply-patch+yaml", params)
    return "serverside-applied", result


async def _client_side(ctx: Context, args: argparse.Namespace,
                       manifest: Manifest) -> tuple[str, dict[str, Any]]:
    import orjson

    from cli.threeway import shape_for, three_way_patch
    from machinery.errors import NotFound

    res = manifest.resource
    modified, _ = last_applied(manifest.obj)
    params = _params(args, args.field_manager or CSA_MANAGER)
    try:
        live = await ctx.client.get(res, manifest.name, manifest.namespace)
    except NotFound:
        if args.dry_run == "client":
            return "created", modified
        try:
            created = await _send(ctx, "POST", resource_path(res, manifest.namespace),
                                  orjson.dumps(modified), "application/json", params)
        except Exception as exc:
            raise sourced("creating", manifest, exc) from exc
        return "created", created
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    original = None
    if LAST_APPLIED in annotations:
        try:
            original = orjson.loads(annotations[LAST_APPLIED])
        except orjson.JSONDecodeError:
            original = None
    else:
        ctx.warn(f"Warning: resource {res.plural}/{manifest.name} is missing the {LAST_APPLIED} "
                 "annotation which is required by k8py apply. The missing annotation will be "
                 "patched automatically.")
    shape = shape_for(str(manifest.obj.get("apiVersion")), str(manifest.obj.get("kind")))
    patch = three_way_patch(original, modified, live, shape)
    if not patch:
        return "unchanged", live
    if args.dry_run == "client":
        return "configured", modified
    content_type = ("application/strategic-merge-patch+json" if shape is not None
                    else "application/merge-patch+json")
    try:
        result = await _send(ctx, "PATCH", resource_path(res, manifest.namespace, manifest.name),
                             orjson.dumps(patch), content_type, params)
    except Exception as exc:
        raise sourced("patching", manifest, exc) from exc
    return "configured", result


def sourced(verb: str, manifest: Manifest, exc: Exception) -> Exception:
    from machinery.errors import ApiError

    return with_source(verb, manifest.source, exc) if isinstance(exc, ApiError) else exc


def report(ctx: Context, output: Output, manifest: Manifest, action: str,
           result: dict[str, Any], suffix: str) -> None:
    """Print one object's outcome: ``kind/name action`` or the object in ``-o`` format."""
    if output.kind and output.kind != "name":
        result = {"apiVersion": manifest.resource.api_version, "kind": manifest.resource.kind,
                  **result}
        ctx.stdout.write(render_objects([(manifest.resource, result)], output, single=True))
    elif output.kind == "name":
        ctx.print(object_name(manifest.resource, manifest.obj))
    else:
        ctx.print(f"{object_name(manifest.resource, manifest.obj)} {action}{suffix}")


async def run(ctx: Context, args: argparse.Namespace) -> int:
    output = parse_output(args.output)
    manifests = read_manifests(args.filename, recursive=args.recursive, stdin=ctx.stdin,
                               namespace=ctx.namespace, explicit_namespace=ctx.explicit_namespace)
    apply_one = _server_side if args.server_side else _client_side
    failures: list[str] = []
    for manifest in manifests:
        if not manifest.name:
            failures.append(f'error: error when retrieving current configuration of "{manifest.source}": '
                            "resource name may not be empty")
            continue
        try:
            action, result = await apply_one(ctx, args, manifest)
        except Exception as exc:  # reported after the remaining objects are applied
            failures.append(format_error(exc))
            continue
        report(ctx, output, manifest, action, result, _suffix(args))
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0
