"""``k8py create``: create objects from files, or build common ones from flags.

``create -f`` POSTs each manifest and fails on objects that already exist
(``apply`` is the idempotent verb).  The generators build the objects kubectl
builds for ``create namespace``, ``create configmap``, ``create secret
generic`` and ``create service clusterip|nodeport|loadbalancer``; with
``--dry-run=client -o yaml`` they print the object instead, the usual way to
start a manifest.  Other modules add generators with
``cli.main.subcommands(subparsers, "create")`` and ``create_object``.
"""

from __future__ import annotations

import argparse
import base64
import os
from typing import Any

from cli.apply import sourced, add_write_flags, field_validation, last_applied, report
from cli.context import Context
from cli.errors import CliError, format_error
from cli.manifests import Manifest, add_file_flags, read_manifests
from cli.printers import parse_output
from machinery.resources import by_kind

__all__ = ["register", "create_object", "configmap_data", "service_for"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("create", help="Create a resource from a file or from stdin")
    add_file_flags(parser, "create")
    add_write_flags(parser)
    parser.add_argument("--save-config", action="store_true",
                        help="record the configuration for later 'apply' calls")
    parser.set_defaults(handler=run_files)
    verbs = parser.add_subparsers(title="generators", metavar="KIND")

    ns = verbs.add_parser("namespace", aliases=["ns"], help="Create a namespace")
    ns.add_argument("name")
    add_write_flags(ns)
    ns.set_defaults(handler=run_namespace)

    cm = verbs.add_parser("configmap", aliases=["cm"], help="Create a config map from files or literals")
    cm.add_argument("name")
    _data_flags(cm)
    add_write_flags(cm)
    cm.set_defaults(handler=run_configmap)

    secret = verbs.add_parser("secret", help="Create a secret")
    secret_kinds = secret.add_subparsers(title="secret types", metavar="TYPE")
    generic = secret_kinds.add_parser("generic", help="Create a secret from files or literals")
    generic.add_argument("name")
    generic.add_argument("--type", default="Opaque", help="the secret's type")
    _data_flags(generic)
    add_write_flags(generic)
    generic.set_defaults(handler=run_secret)
    secret.set_defaults(handler=lambda ctx, args: secret.print_help(ctx.stdout))

    service = verbs.add_parser("service", aliases=["svc"], help="Create a service")
    service_kinds = service.add_subparsers(title="service types", metavar="TYPE")
    for kind, type_ in (("clusterip", "ClusterIP"), ("nodeport", "NodePort"),
                        ("loadbalancer", "LoadBalancer")):
        sub = service_kinds.add_parser(kind, help=f"Create a {type_} service")
        sub.add_argument("name")
        sub.add_argument("--tcp", action="append", default=[], help="port[:targetPort], repeatable")
        if kind == "clusterip":
            sub.add_argument("--clusterip", default=None, help="the cluster IP ('None' for headless)")
        if kind == "nodeport":
            sub.add_argument("--node-port", type=int, default=0, help="the node port to use")
        add_write_flags(sub)
        sub.set_defaults(handler=run_service, service_type=type_)
    service.set_defaults(handler=lambda ctx, args: service.print_help(ctx.stdout))


def _data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-literal", action="append", default=[], help="key=value, repeatable")
    parser.add_argument("--from-file", action="append", default=[],
                        help="[key=]path to a file or folder, repeatable")
    parser.add_argument("--from-env-file", action="append", default=[],
                        help="a file of KEY=value lines")


def _put(data: dict[str, bytes], key: str, value: bytes) -> None:
    if key in data:
        raise CliError(f'cannot add key "{key}", another key by that name already exists in Data')
    data[key] = value


def configmap_data(literals: list[str], files: list[str], env_files: list[str]) -> dict[str, bytes]:
    """Key -> raw bytes from ``--from-literal``, ``--from-file`` and ``--from-env-file``."""
    data: dict[str, bytes] = {}
    for literal in literals:
        key, sep, value = literal.partition("=")
        if not sep or not key:
            raise CliError(f'invalid literal source {literal}, expected key=value')
        _put(data, key, value.encode())
    for spec in files:
        key, sep, path = spec.partition("=")
        if not sep:
            key, path = "", spec
        if os.path.isdir(path):
            if key:
                raise CliError("cannot give a key name for a directory path")
            for entry in sorted(os.listdir(path)):
                full = os.path.join(path, entry)
                if os.path.isfile(full):
                    _put(data, entry, _read(full))
            continue
        _put(data, key or os.path.basename(path), _read(path))
    for path in env_files:
        for line in _read(path).decode().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                value = os.environ.get(key, "")
            _put(data, key.strip(), value.encode())
    return data


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise CliError(f"error reading {path}: no such file or directory") from None
    except OSError as exc:
        raise CliError(f"error reading {path}: {exc.strerror}") from exc


def _port(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def service_for(name: str, service_type: str, tcp: list[str], *, node_port: int = 0,
                cluster_ip: str | None = None) -> dict[str, Any]:
    """The Service ``kubectl create service`` builds: selector and label ``app=<name>``."""
    if not tcp and cluster_ip != "None":
        raise CliError("at least one tcp port specifier must be provided")
    ports = []
    for spec in tcp:
        port, _, target = spec.partition(":")
        if not port.isdigit():
            raise CliError(f"invalid port {spec!r}: expected port[:targetPort]")
        entry: dict[str, Any] = {"name": f"{port}-{target or port}", "port": int(port),
                                 "protocol": "TCP", "targetPort": _port(target or port)}
        if node_port:
            entry["nodePort"] = node_port
        ports.append(entry)
    spec_: dict[str, Any] = {"ports": ports, "selector": {"app": name}, "type": service_type}
    if cluster_ip:
        spec_["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"app": name}}, "spec": spec_}


async def create_object(ctx: Context, args: argparse.Namespace, obj: dict[str, Any],
                        source: str = "") -> int:
    """Create one generated object (or print it, with ``--dry-run=client``)."""
    resource = by_kind(obj["apiVersion"], obj["kind"])
    if resource is None:
        raise CliError(f'no resource for kind "{obj["kind"]}"')
    if resource.namespaced and (args.dry_run != "client" or ctx.explicit_namespace):
        obj["metadata"].setdefault("namespace", ctx.namespace)
    manifest = Manifest(source, obj, resource)
    output = parse_output(getattr(args, "output", None))
    result = await _post(ctx, args, manifest, save_config=getattr(args, "save_config", False))
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    report(ctx, output, manifest, "created", result, suffix)
    return 0


async def _post(ctx: Context, args: argparse.Namespace, manifest: Manifest, *,
                save_config: bool) -> dict[str, Any]:
    import orjson

    from machinery.resources import resource_path

    obj = last_applied(manifest.obj)[0] if save_config else manifest.obj
    if args.dry_run == "client":
        return obj
    params = {"fieldManager": "kubectl-create", "fieldValidation": field_validation(args),
              "dryRun": "All" if args.dry_run == "server" else None}
    try:
        response = await ctx.client.request(
            "POST", resource_path(manifest.resource, manifest.namespace), params=params,
            content=orjson.dumps(obj), content_type="application/json")
    except Exception as exc:
        raise sourced("creating", manifest, exc) from exc
    result = orjson.loads(response.content)
    return result if isinstance(result, dict) else obj


async def run_files(ctx: Context, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    output = parse_output(args.output)
    manifests = read_manifests(args.filename, recursive=args.recursive, stdin=ctx.stdin,
                               namespace=ctx.namespace, explicit_namespace=ctx.explicit_namespace,
                               verb="create")
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    failures: list[str] = []
    for manifest in manifests:
        try:
            result = await _post(ctx, args, manifest, save_config=args.save_config)
        except Exception as exc:  # reported after the remaining objects are created
            failures.append(format_error(exc))
            continue
        report(ctx, output, manifest, "created", result, suffix)
    for failure in failures:
        ctx.warn(failure)
    return 1 if failures else 0


async def run_namespace(ctx: Context, args: argparse.Namespace) -> int:
    return await create_object(ctx, args, {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": args.name}})


async def run_configmap(ctx: Context, args: argparse.Namespace) -> int:
    data = configmap_data(args.from_literal, args.from_file, args.from_env_file)
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in data.items():
        try:
            text[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": args.name}}
    if text:
        obj["data"] = text
    if binary:
        obj["binaryData"] = binary
    return await create_object(ctx, args, obj)


async def run_secret(ctx: Context, args: argparse.Namespace) -> int:
    data = configmap_data(args.from_literal, args.from_file, args.from_env_file)
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": args.name},
                           "type": args.type}
    if data:
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    return await create_object(ctx, args, obj)


async def run_service(ctx: Context, args: argparse.Namespace) -> int:
    obj = service_for(args.name, args.service_type, args.tcp,
                      node_port=getattr(args, "node_port", 0),
                      cluster_ip=getattr(args, "clusterip", None))
    return await create_object(ctx, args, obj)
