"""``k8py port-forward``: local ports to a pod's ports through the API server.

``pod/NAME``, ``deploy/NAME`` (any workload) and ``svc/NAME`` are accepted,
as by kubectl: a workload or Service picks one running pod, and a Service
port is mapped to its target port on that pod (``translateServicePortToTargetPort``),
named ports resolved against the pod's container ports. Each accepted local
connection becomes its own WebSocket on ``pods/<name>/portforward``
(``machinery.streams.portforward_client``). Runs until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

from cli.context import Context
from cli.errors import CliError
from cli.streaming import Selection, connection, pod_path, select_pod

__all__ = ["register", "PortSpec", "parse_port_spec", "resolve_ports", "listen_addresses"]

Obj = dict[str, Any]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "port-forward", help="Forward one or more local ports to a pod")
    parser.add_argument("target", metavar="TYPE/NAME")
    parser.add_argument("ports", nargs="+", metavar="[LOCAL_PORT:]REMOTE_PORT")
    parser.add_argument("--address", default="localhost",
                        help="addresses to listen on (comma separated): localhost, or IPs")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class PortSpec:
    """One ``[LOCAL:]REMOTE`` argument; ``local`` 0 picks a free port, None means "as remote"."""

    local: int | None
    remote: str


def _port_number(text: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise CliError(f"Error parsing {what} port '{text}': not a number") from None
    if not 0 <= port < 65536:
        raise CliError(f"{what} port {text} must be between 0 and 65535")
    return port


def parse_port_spec(text: str) -> PortSpec:
    local, colon, remote = text.rpartition(":")
    if not remote:
        raise CliError(f"invalid port format '{text}'")
    if not colon:
        return PortSpec(None, remote)
    return PortSpec(_port_number(local, "local") if local else 0, remote)


def _container_port(pod: Obj, name: str) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    raise CliError(f"Pod '{pod['metadata']['name']}' does not have a named port '{name}'")


def _service_target(service: Obj, pod: Obj, remote: str) -> int:
    for port in (service.get("spec") or {}).get("ports") or []:
        if str(port.get("port")) == remote or (port.get("name") and port.get("name") == remote):
            target = port.get("targetPort")
            if target is None or target == "":
                return int(port["port"])
            if isinstance(target, int) or str(target).isdigit():
                return int(target)
            return _container_port(pod, str(target))
    raise CliError(f"Service {service['metadata']['name']} does not have a service port {remote}")


def resolve_ports(selection: Selection, specs: list[PortSpec]) -> list[tuple[int, int]]:
    """(local, pod port) pairs; without a local port the given (service) port is kept."""
    pairs: list[tuple[int, int]] = []
    for spec in specs:
        if selection.kind == "services":
            remote = _service_target(selection.named, selection.pod, spec.remote)
            given = int(spec.remote) if spec.remote.isdigit() else remote
        elif spec.remote.isdigit():
            remote = given = _port_number(spec.remote, "remote")
        else:
            remote = given = _container_port(selection.pod, spec.remote)
        if remote == 0:
            raise CliError("remote port cannot be 0")
        pairs.append((given if spec.local is None else spec.local, remote))
    return pairs


def listen_addresses(text: str) -> list[str]:
    addresses: list[str] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        for address in (["127.0.0.1", "::1"] if item == "localhost" else [item]):
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise CliError("--address must name at least one address")
    return addresses


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.streams import portforward_client

    ctx.interrupt_code = 0  # Ctrl-C is how a forward ends
    selection = await select_pod(ctx, args.target)
    phase = (selection.pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status={phase}")
    pairs = resolve_ports(selection, [parse_port_spec(p) for p in args.ports])
    conn = connection(ctx)
    meta = selection.pod["metadata"]
    url = conn.url(pod_path(meta.get("namespace") or ctx.namespace, meta["name"], "portforward"))

    def announce(address: str) -> Any:
        shown = f"[{address}]" if ":" in address else address

        def on_listen(local: int, remote: int) -> None:
            ctx.stdout.write(f"Forwarding from {shown}:{local} -> {remote}\n")
            ctx.stdout.flush()
        return on_listen

    async def forward(address: str, ports: list[tuple[int, int]]) -> tuple[asyncio.Task[None], list[int]]:
        ready = asyncio.Event()
        bound: list[int] = []
        report = announce(address)

        def on_listen(local: int, remote: int) -> None:
            bound.append(local)
            report(local, remote)

        task = asyncio.ensure_future(portforward_client(
            url, conn.headers, ports, address=address, ready=ready, ssl=conn.ssl,
            on_listen=on_listen))
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            exc = task.exception()
            raise CliError(f"unable to listen on any of the requested ports: {exc}")
        return task, bound

    addresses = listen_addresses(args.address)
    first, bound = await forward(addresses[0], pairs)
    tasks = [first]
    # Every address serves the same local ports, once the first has picked any free ones.
    resolved = [(local, remote) for local, (_, remote) in zip(bound, pairs)]
    for address in addresses[1:]:
        try:
            tasks.append((await forward(address, resolved))[0])
        except CliError:
            if args.address != "localhost":
                raise  # ::1 may be missing; an address asked for by name may not
    await asyncio.gather(*tasks)
    return 0
