"""``k8py expose``: build a Service in front of a workload, pod or service, as kubectl does.

The object named on the command line is read from the server and supplies
what the flags leave out: the selector (a workload's ``spec.selector.matchLabels``,
a pod's labels, a service's selector), the ports (every container port of the
pod template, or the service's ports), their protocols and the labels.  The
Service is named after the object unless ``--name`` says otherwise; every port
targets ``--target-port`` or else itself.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context, parse_targets
from cli.errors import CliError

__all__ = ["register", "run", "service_from", "selector_for", "ports_for"]

_EXPOSABLE = {"Deployment", "ReplicaSet", "ReplicationController", "Pod", "Service"}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from cli.apply import add_write_flags

    parser = subparsers.add_parser(
        "expose", help="Take a replication controller, service, deployment or pod and expose "
                       "it as a new Kubernetes service")
    parser.add_argument("resource", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    parser.add_argument("--port", default="", help="the port the service serves on")
    parser.add_argument("--target-port", default="",
                        help="name or number of the port on the container to direct traffic to")
    parser.add_argument("--name", default="", help="the name of the new service")
    parser.add_argument("--type", default="", dest="service_type",
                        choices=("", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
                        help="the service type: ClusterIP, NodePort, LoadBalancer or ExternalName")
    parser.add_argument("--protocol", default="", help="TCP, UDP or SCTP")
    parser.add_argument("--selector", default="",
                        help="k=v,... selector to use instead of the object's")
    parser.add_argument("--labels", "-l", default="", help="k=v,... labels of the service")
    parser.add_argument("--cluster-ip", default="", help="the cluster IP ('None' for headless)")
    parser.add_argument("--external-ip", default="", help="an external IP for the service")
    parser.add_argument("--session-affinity", default="", choices=("", "None", "ClientIP"),
                        help="None or ClientIP")
    add_write_flags(parser)
    parser.set_defaults(handler=run)


def _parse_labels(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise CliError(f"invalid label spec: {part}" if what == "label"
                           else f"invalid selector spec: {part}")
        out[key.strip()] = value.strip()
    return out


def selector_for(obj: dict[str, Any]) -> dict[str, str]:
    """The map selector kubectl's ``MapBasedSelectorForObject`` derives, or CliError."""
    kind = obj.get("kind", "")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not labels:
            raise CliError("the pod has no labels and cannot be exposed")
        return dict(labels)
    if kind in ("Service", "ReplicationController"):
        selector = spec.get("selector")
        if not selector:
            noun = "service" if kind == "Service" else "replication controller"
            raise CliError(f"the {noun} has no pod selector set")
        return dict(selector)
    selector = spec.get("selector") or {}
    if not selector.get("matchLabels"):
        raise CliError(f"invalid {kind.lower()}: no selectors, therefore cannot be exposed")
    if selector.get("matchExpressions"):
        exprs = " ".join(
            f"{{Key:{e.get('key', '')} Operator:{e.get('operator', '')} "
            f"Values:[{' '.join(e.get('values') or [])}]}}" for e in selector["matchExpressions"])
        raise CliError(f'couldn\'t convert expressions - "[{exprs}]" to map-based selector format')
    return dict(selector["matchLabels"])


def ports_for(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """``(port, protocol)`` pairs the object offers, in order (kubectl's PortsForObject)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service":
        return [(str(p.get("port")), p.get("protocol") or "TCP") for p in spec.get("ports") or []]
    pod_spec = spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}
    return [(str(p.get("containerPort")), p.get("protocol") or "TCP")
            for container in pod_spec.get("containers") or []
            for p in container.get("ports") or []]


def _int_or_str(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def service_from(obj: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The Service ``kubectl expose`` builds for ``obj`` with the given flags."""
    kind = obj.get("kind", "")
    if kind not in _EXPOSABLE:
        raise CliError(f"cannot expose a {kind}")
    meta = obj.get("metadata") or {}
    if args.selector:
        selector = _parse_labels(args.selector, "selector")
    else:
        try:
            selector = selector_for(obj)
        except CliError as exc:
            raise CliError(f"couldn't retrieve selectors via --selector flag or introspection: "
                           f"{exc}") from None
    offered = ports_for(obj)
    protocols: dict[str, str] = {}
    for port, protocol in offered:
        protocols.setdefault(port, protocol)
    if args.port:
        numbers = [args.port]
    else:
        numbers = list(dict.fromkeys(port for port, _ in offered))
        if not numbers and args.cluster_ip != "None":
            raise CliError("couldn't find port via --port flag or introspection")
    ports: list[dict[str, Any]] = []
    for index, number in enumerate(numbers):
        if not number.isdigit():
            raise CliError(f'strconv.Atoi: parsing "{number}": invalid syntax')
        entry: dict[str, Any] = {}
        if len(numbers) > 1:
            entry["name"] = f"port-{index + 1}"
        entry["port"] = int(number)
        entry["protocol"] = args.protocol or protocols.get(number, "TCP")
        entry["targetPort"] = _int_or_str(args.target_port) if args.target_port else int(number)
        ports.append(entry)
    labels = _parse_labels(args.labels, "label") if args.labels else dict(meta.get("labels") or {})
    metadata: dict[str, Any] = {"name": args.name or meta.get("name", "")}
    if labels:
        metadata["labels"] = labels
    spec: dict[str, Any] = {"ports": ports, "selector": selector}
    if args.service_type:
        spec["type"] = args.service_type
    if args.cluster_ip:
        spec["clusterIP"] = args.cluster_ip
    if args.external_ip:
        spec["externalIPs"] = [args.external_ip]
    if args.session_affinity:
        spec["sessionAffinity"] = args.session_affinity
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


async def run(ctx: Context, args: argparse.Namespace) -> int:
    import orjson

    from cli.apply import field_validation
    from cli.printers import object_name, parse_output, render_objects
    from machinery.resources import by_kind, resource_path

    output = parse_output(args.output)
    targets = parse_targets(args.resource)
    if not targets or not targets[0].names:
        raise CliError("You must provide the type and name of the resource to expose "
                       "(e.g. 'k8py expose deployment web --port=80')")
    services = by_kind("v1", "Service")
    assert services is not None
    for target in targets:
        if target.resource.kind not in _EXPOSABLE:
            raise CliError(f"cannot expose a {target.resource.kind}")
        for name in target.names:
            obj = await ctx.client.get(target.resource, name, ctx.namespace)
            obj.setdefault("kind", target.resource.kind)
            service = service_from(obj, args)
            if args.dry_run == "client":
                if ctx.explicit_namespace:
                    service["metadata"]["namespace"] = ctx.namespace
                # kubectl prints the Go struct, zero timestamp and empty status included.
                result = {**service, "metadata": {**service["metadata"], "creationTimestamp": None},
                          "status": {"loadBalancer": {}}}
            else:
                response = await ctx.client.request(
                    "POST", resource_path(services, ctx.namespace),
                    params={"fieldManager": "kubectl-expose",
                            "fieldValidation": field_validation(args),
                            "dryRun": "All" if args.dry_run == "server" else None},
                    content=orjson.dumps(service), content_type="application/json")
                result = orjson.loads(response.content)
            if output.kind and output.kind != "name":
                ctx.stdout.write(render_objects([(services, result)], output, single=True))
            elif output.kind == "name":
                ctx.print(object_name(services, service))
            else:
                suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
                ctx.print(f"{object_name(services, service)} exposed{suffix}")
    return 0
