"""``python -m controllers``: the controller manager process.

One process runs every controller of ``controllers.manager.CONTROLLERS``,
each with its own worker pool, over one set of shared informers.  With
``--leader-elect`` (the default) it first wins the Lease
``kube-system/kube-controller-manager``; a second manager stands by and takes
over when the first stops renewing.  Losing the lease ends the process with
status 1, as kube-controller-manager does, because controllers half-way
through a sync must not keep writing beside a new leader.
"""

from __future__ import annotations

import argparse
import logging
import re
import socket
import sys
import uuid

from prometheus_client import Gauge

from controllers.manager import (
    ControllerContext,
    add_controller_flags,
    run_controllers,
    select_controllers,
)
from machinery import kubeconfig
from machinery.client import ApiClient
from machinery.component import Health, add_common_flags, flag, run, serve_health, setup_logging
from machinery.events import EventBroadcaster
from machinery.informer import SharedInformerFactory
from machinery.leaderelection import LeaderElector

__all__ = ["build_parser", "parse_duration", "main"]

LEADER = Gauge("k8py_controller_manager_leader", "1 while this controller manager leads")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (``40s``, ``1m30s``, ``500ms``) or a bare number."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m controllers",
        description="k8py controller manager: runs the workload and cluster controllers")
    flag(parser, "--kubeconfig", env="K8PY_KUBECONFIG", default=None,
         help="kubeconfig file with the API server address and credentials")
    flag(parser, "--master", env="K8PY_MASTER", default=None,
         help="API server URL (overrides the kubeconfig's server)")
    flag(parser, "--leader-elect", env="K8PY_LEADER_ELECT", default=True, type=bool,
         help="win a Lease before running controllers, so replicas can stand by")
    flag(parser, "--leader-elect-lease-duration", env="K8PY_LEADER_ELECT_LEASE_DURATION",
         default=15.0, type=parse_duration, help="how long a standby waits on a silent leader")
    flag(parser, "--leader-elect-renew-deadline", env="K8PY_LEADER_ELECT_RENEW_DEADLINE",
         default=10.0, type=parse_duration, help="how long the leader keeps trying to renew")
    flag(parser, "--leader-elect-retry-period", env="K8PY_LEADER_ELECT_RETRY_PERIOD",
         default=2.0, type=parse_duration, help="interval between lease attempts")
    flag(parser, "--leader-elect-resource-name", env="K8PY_LEADER_ELECT_RESOURCE_NAME",
         default="kube-controller-manager", help="name of the leader election Lease")
    flag(parser, "--leader-elect-resource-namespace", env="K8PY_LEADER_ELECT_RESOURCE_NAMESPACE",
         default="kube-system", help="namespace of the leader election Lease")
    flag(parser, "--node-monitor-grace-period", env="K8PY_NODE_MONITOR_GRACE_PERIOD",
         default=40.0, type=parse_duration,
         help="how long a node may go without a heartbeat before it is marked unhealthy")
    flag(parser, "--identity", env="K8PY_IDENTITY", default=None,
         help="leader election identity (default: hostname_uuid)")
    flag(parser, "--load-balancer-ip-range", env="K8PY_LOAD_BALANCER_IP_RANGE",
         default="127.0.2.0/24",
         help="addresses the servicelb controller assigns to LoadBalancer Services")
    add_controller_flags(parser)
    add_common_flags(parser, health_port=10257)
    return parser


def _client(args: argparse.Namespace) -> ApiClient:
    """kubectl's rules: the kubeconfig's identity, ``--master`` overriding its server."""
    agent = "k8py-controller-manager"
    if args.master and not args.kubeconfig:
        return ApiClient(args.master, user_agent=agent)
    ctx = kubeconfig.load(args.kubeconfig).context()
    server = args.master or ctx.server
    return ApiClient(server, token=ctx.token, namespace=ctx.namespace,
                     ssl_context=ctx.ssl_context() if server.startswith("https://") else None,
                     user_agent=agent)


async def _main(args: argparse.Namespace, log: logging.Logger) -> None:
    specs = select_controllers(args.controllers)
    client = _client(args)
    health = Health()
    server = await serve_health(health, args.health_address, args.health_port)
    port = server.sockets[0].getsockname()[1]
    log.info("serving /healthz and /metrics on %s:%d", args.health_address, port)
    broadcaster = EventBroadcaster(client)
    informers: list[SharedInformerFactory] = []

    def synced() -> bool:
        return bool(informers) and all(i.has_synced() for f in informers for i in f.informers())

    health.add_check("informer-sync", synced, ready_only=True)

    async def lead() -> None:
        LEADER.set(1)
        factory = SharedInformerFactory(client)
        informers[:] = [factory]
        ctx = ControllerContext(client, factory, broadcaster, args)
        log.info("starting controllers: %s", ", ".join(s.name for s in specs))
        await run_controllers(ctx, specs)

    try:
        if not args.leader_elect:
            await lead()
            return
        identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        elector = LeaderElector(
            client, lock_name=args.leader_elect_resource_name,
            lock_namespace=args.leader_elect_resource_namespace, identity=identity,
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period, logger=log)
        log.info("attempting to acquire leader lease %s/%s as %s",
                 args.leader_elect_resource_namespace, args.leader_elect_resource_name, identity)
        await elector.run(lead, lambda: LEADER.set(0))
        raise RuntimeError("leader election lost")
    finally:
        LEADER.set(0)
        await broadcaster.stop()
        server.close()
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging("controller-manager", args.log_level, args.log_format)
    try:
        select_controllers(args.controllers)
        if not args.master or args.kubeconfig:
            kubeconfig.load(args.kubeconfig).context()
    except ValueError as exc:  # includes KubeconfigError
        log.error("%s", exc)
        return 2
    return run(lambda: _main(args, log), logger=log)


if __name__ == "__main__":
    sys.exit(main())
