"""``k8py cluster up|down|status``: the multi-node local cluster on this machine's Docker.

``up`` is the one command between a fresh checkout and ``kubectl get nodes``:
it checks the engine, builds what images are missing (offline, through
images/build.sh), starts the compose project ``k8py`` with N node replicas,
waits until the API server answers and N nodes are Ready, and merges a
``k8py`` context into the kubeconfig.  ``down`` undoes all of it, including
what the kubelets created outside compose (pod containers, the ``k8py``
network, pod volume folders), so Docker looks as it did before ``up``.
"""

from __future__ import annotations

import argparse
import time
from typing import IO, Any

from cli.context import Context, parse_duration
from cli.errors import CliError
from cli.localcluster import CLUSTER, CONTROL_PLANE_HEALTH, SERVER, LocalCluster, docker_ok, \
    http_ok

__all__ = ["register", "ready_nodes"]

Obj = dict[str, Any]
_REQUIRED = ("etcd", "apiserver", "controller-manager", "scheduler")
_OPTIONAL = ("dns", "ingress")  # shown when the compose file runs them


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("cluster", help="Run the local multi-node cluster (docker compose)")
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    up = commands.add_parser("up", help="Start the local cluster and add the k8py context")
    up.add_argument("--nodes", type=int, default=2, help="number of nodes (default 2)")
    build = up.add_mutually_exclusive_group()
    build.add_argument("--build", dest="build", action="store_true", default=None,
                       help="run images/build.sh even when the images exist (rebuilds what changed)")
    build.add_argument("--no-build", dest="build", action="store_false",
                       help="never build; fail when an image is missing")
    up.add_argument("--timeout", default="180s",
                    help="how long to wait for the API server and Ready nodes (default 180s)")
    up.set_defaults(handler=run_up)

    down = commands.add_parser("down", help="Stop the local cluster and remove what it created")
    down.add_argument("--keep-data", action="store_true",
                      help="keep the etcd volume and pod volume folders (the next up resumes)")
    down.set_defaults(handler=run_down)

    status = commands.add_parser("status", help="Show the local cluster's containers, nodes and pods")
    status.set_defaults(handler=run_status)


# -- kubeconfig -------------------------------------------------------------------------------


def _kubeconfig_path(args: argparse.Namespace) -> str:
    """The file kubectl would write to: --kubeconfig, else the first of $KUBECONFIG, else ~/.kube/config."""
    from machinery.kubeconfig import default_paths

    return str(getattr(args, "kubeconfig", None) or default_paths()[0])


# -- the API, read without a kubeconfig (there may be none yet) -------------------------------


def _list(resource: str, timeout: float = 5.0, *, group: str = "api/v1") -> list[Obj]:
    import httpx

    try:
        response = httpx.get(f"{SERVER}/{group}/{resource}", timeout=timeout)
        response.raise_for_status()
        return list(response.json().get("items") or [])
    except (httpx.HTTPError, ValueError):
        return []


def _is_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def _renewed_since(leases: list[Obj], since: float) -> set[str]:
    """Nodes whose kubelet renewed its Lease after ``since`` (epoch seconds)."""
    from machinery.meta import parse_time

    fresh = set()
    for lease in leases:
        renewed = (lease.get("spec") or {}).get("renewTime")
        try:
            if renewed and parse_time(str(renewed)).timestamp() >= since:
                fresh.add(str(lease["metadata"]["name"]))
        except ValueError:
            continue
    return fresh


def ready_nodes(nodes: list[Obj], wanted: int, alive: set[str] | None = None) -> list[str]:
    """Names among node-1..node-<wanted> that are Ready (and, given ``alive``, in it).

    A Node kept in etcd across ``down --keep-data`` still says Ready until the
    controller manager notices its silence, so ``up`` also asks for a Lease
    renewed by the kubelet that runs now.
    """
    names = {f"node-{n}" for n in range(1, wanted + 1)}
    if alive is not None:
        names &= alive
    return sorted(str(n["metadata"]["name"]) for n in nodes
                  if n.get("metadata", {}).get("name") in names and _is_ready(n))


# -- up -------------------------------------------------------------------------------------


def _ensure_images(cluster: LocalCluster, build: bool | None, out: IO[str]) -> None:
    missing = cluster.missing_images()
    if build is False:
        if missing:
            raise CliError(f"missing images: {', '.join(missing)} (run without --no-build, or "
                           "images/build.sh all in the k8py repository)")
        return
    if build or missing:
        if missing:
            print(f"Building images (missing: {', '.join(missing)}) with images/build.sh ...",
                  file=out)
        cluster.build_images()


def _start_and_wait(cluster: LocalCluster, nodes: int, timeout: float, err: IO[str]) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=err)
    columns = (SpinnerColumn(finished_text="[green]✓[/]"), TextColumn("{task.description}"),
               TimeElapsedColumn())
    since = time.time() - 1.0  # Lease times are this machine's clock, in microseconds
    with Progress(*columns, console=console) as progress:
        step = progress.add_task(f"docker compose -p {cluster.project} up -d --scale node={nodes}", total=1)
        cluster.up(nodes)
        progress.update(step, completed=1)
        deadline = time.monotonic() + timeout
        api = progress.add_task(f"API server {SERVER}", total=1)
        nodes_task = progress.add_task(f"nodes Ready 0/{nodes}", total=nodes)
        ready: list[str] = []
        while True:
            if not progress.tasks[api].finished and http_ok(f"{SERVER}/readyz"):
                progress.update(api, completed=1)
            if progress.tasks[api].finished:
                leases = _list("namespaces/kube-node-lease/leases",
                               group="apis/coordination.k8s.io/v1")
                ready = ready_nodes(_list("nodes"), nodes, _renewed_since(leases, since))
            progress.update(nodes_task, completed=len(ready),
                            description=f"nodes Ready {len(ready)}/{nodes}")
            if len(ready) == nodes:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    logs = cluster.compose("logs", "--tail=20", check=False).stdout
    raise CliError(f"the cluster was not ready within {timeout:.0f}s "
                   f"({len(ready)}/{nodes} nodes Ready); recent logs:\n{logs[-4000:]}")


def run_up(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.kubeconfig import merge_context

    if not 1 <= args.nodes <= 254:
        raise CliError("--nodes must be between 1 and 254")
    timeout = parse_duration(args.timeout)
    if not docker_ok():
        raise CliError("the Docker engine does not answer (start it with scripts/bootstrap)")
    cluster = LocalCluster.discover()
    cluster.compose_file()  # fail early outside a checkout, before any build
    started = time.monotonic()
    _ensure_images(cluster, args.build, ctx.stdout)
    _start_and_wait(cluster, args.nodes, timeout, ctx.stderr)
    path = _kubeconfig_path(args)
    merge_context(path, CLUSTER, SERVER, set_current=True)
    print(f"The k8py cluster is up: {args.nodes} node(s) Ready, API server {SERVER} "
          f"({time.monotonic() - started:.1f}s).\n"
          f'Context "{CLUSTER}" written to {path} and made current.\n\n'
          "Next:\n"
          "  kubectl get nodes -o wide\n"
          "  kubectl apply -f examples/hello/k8s.yaml\n"
          "  k8py cluster status\n"
          "and the walkthrough in README.md.  Stop it with: k8py cluster down",
          file=ctx.stdout)
    return 0


# -- down -----------------------------------------------------------------------------------


def run_down(ctx: Context, args: argparse.Namespace) -> int:
    from machinery.kubeconfig import KubeconfigError, remove_context

    if not docker_ok():
        raise CliError("the Docker engine does not answer (start it with scripts/bootstrap)")
    cluster = LocalCluster.discover()
    cluster.down(keep_data=args.keep_data)
    removed = cluster.remove_pods_and_network()
    if not args.keep_data:
        cluster.remove_pod_data()
    path = _kubeconfig_path(args)
    try:
        remove_context(path, CLUSTER)
        context_note = f'context "{CLUSTER}" removed from {path}'
    except KubeconfigError:
        context_note = f'no context "{CLUSTER}" in {path}'
    kept = "; etcd data and pod volumes kept" if args.keep_data else ""
    print(f"The k8py cluster is down: removed {removed['containers']} pod container(s), "
          f"{removed['volumes']} pod volume(s) and {removed['networks']} network(s){kept}; "
          f"{context_note}.", file=ctx.stdout)
    return 0


# -- status ---------------------------------------------------------------------------------


def run_status(ctx: Context, args: argparse.Namespace) -> int:
    from cli.tabwriter import tabwrite

    if not docker_ok():
        raise CliError("the Docker engine does not answer (start it with scripts/bootstrap)")
    cluster = LocalCluster.discover()
    services = cluster.services()
    if not services:
        print(f"The k8py cluster is not running (no compose project {cluster.project!r}); "
              "start it with: k8py cluster up", file=ctx.stdout)
        return 1
    rows = ["COMPONENT\tCONTAINERS\tHEALTH"]
    healthy = True
    for service in (*_REQUIRED, *_OPTIONAL):
        states = services.get(service, [])
        if not states and service in _OPTIONAL:
            continue
        probe = CONTROL_PLANE_HEALTH.get(service)
        ok = bool(states) and all(s.startswith("running") for s in states) and \
            (probe is None or http_ok(probe))
        healthy = healthy and ok
        rows.append(f"{service}\t{', '.join(states) or 'missing'}\t{'ok' if ok else 'failing'}")
    nodes = _list("nodes")
    pods = _list("pods")
    per_node: dict[str, int] = {}
    for pod in pods:
        name = str((pod.get("spec") or {}).get("nodeName") or "<pending>")
        per_node[name] = per_node.get(name, 0) + 1
    rows += ["", "NODE\tSTATUS\tINTERNAL-IP\tPODS"]
    for node in sorted(nodes, key=lambda n: str(n["metadata"]["name"])):
        name = str(node["metadata"]["name"])
        address = next((a.get("address") for a in (node.get("status") or {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), "")
        healthy &= _is_ready(node)
        rows.append(f"{name}\t{'Ready' if _is_ready(node) else 'NotReady'}\t{address}\t"
                    f"{per_node.get(name, 0)}")
    running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
    namespaces = len({p["metadata"].get("namespace") for p in pods})
    ctx.stdout.write(tabwrite("\n".join(rows) + "\n", padding=3))
    print(f"\n{len(pods)} pod(s) in {namespaces} namespace(s), {running} running; "
          f"{len(services.get('node', []))} node container(s).", file=ctx.stdout)
    return 0 if healthy and nodes else 1
