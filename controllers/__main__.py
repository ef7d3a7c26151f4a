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
from machinery.apiflags import add_api_flags, check_api_flags, client_from_args
from machinery.component import (
    Health,
    add_common_flags,
    flag,
    parse_duration,
    run,
    serve_health,
    setup_logging,
)
from machinery.events import EventBroadcaster
from machinery.informer import SharedInformerFactory
from machinery.leaderflags import add_leader_election_flags, elector_from_args

__all__ = ["build_parser", "parse_duration", "main"]

LEADER = Gauge("k8py_controller_manager_leader", "1 while this controller manager leads")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m controllers",
        description="k8py controller manager: runs the workload and cluster controllers")
    add_api_flags(parser)
    add_leader_election_flags(parser, resource_name="kube-controller-manager")
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


async def _main(args: argparse.Namespace, log: logging.Logger) -> None:
    specs = select_controllers(args.controllers)
    client = client_from_args(args, "k8py-controller-manager")
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
        elector = elector_from_args(client, args, identity=identity, logger=log)
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
        check_api_flags(args)
    except ValueError as exc:  # includes KubeconfigError
        log.error("%s", exc)
        return 2
    return run(lambda: _main(args, log), logger=log)


if __name__ == "__main__":
    sys.exit(main())
