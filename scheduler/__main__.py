"""``python -m scheduler``: the kube-scheduler process.

Caches (pods, nodes, services) fill as soon as the process starts, so a
standby is warm; only the holder of the ``kube-system/kube-scheduler`` Lease
runs the scheduling loop, so two schedulers can run for availability and
never bind the same pod twice.  Losing the lease stops the loop (in-flight
binds are requeued) and the process campaigns again.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import uuid

from machinery.apiflags import add_api_flags, client_from_args
from machinery.component import Health, add_common_flags, flag, run, serve_health, setup_logging
from machinery.events import EventBroadcaster
from machinery.informer import SharedInformerFactory
from machinery.leaderflags import add_leader_election_flags, elector_from_args
from scheduler import metrics
from scheduler.plugins import build_profile
from scheduler.scheduler import DEFAULT_SCHEDULER_NAME, Scheduler

__all__ = ["build_parser", "main", "serve"]

log = logging.getLogger("scheduler")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler", description="k8py scheduler: assigns pending pods to nodes")
    add_api_flags(parser)
    flag(parser, "--scheduler-name", env="K8PY_SCHEDULER_NAME", default=DEFAULT_SCHEDULER_NAME,
         help="schedule pods whose spec.schedulerName is this")
    add_leader_election_flags(parser, resource_name="kube-scheduler")
    add_common_flags(parser, health_port=10259)
    return parser


async def serve(args: argparse.Namespace) -> None:
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    client = client_from_args(args, "k8py-scheduler")
    informers = SharedInformerFactory(client)
    broadcaster = EventBroadcaster(client)
    scheduler = Scheduler(client, informers, broadcaster.recorder(args.scheduler_name, identity),
                          profile=build_profile(args.scheduler_name))
    health = Health()
    health.add_check("informer-sync", scheduler.has_synced, ready_only=True)
    server = await serve_health(health, args.health_address, args.health_port)
    port = server.sockets[0].getsockname()[1]
    log.info("serving /healthz, /readyz and /metrics", extra={"port": port})
    lease = args.leader_elect_resource_name
    try:
        await informers.start_and_sync(log, "waiting for the pod, node and service caches to sync")
        if not args.leader_elect:
            await scheduler.run()
            return
        elector = elector_from_args(client, args, identity=identity, logger=log)
        metrics.leader.labels(lease).set(0)
        while True:
            log.info("attempting to acquire the leader lease", extra={"identity": identity})

            async def lead() -> None:
                metrics.leader.labels(lease).set(1)
                await scheduler.run()

            await elector.run(lead, lambda: metrics.leader.labels(lease).set(0))
    finally:
        server.close()
        await informers.stop()
        await broadcaster.stop(timeout=2.0)
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger = setup_logging("scheduler", args.log_level, args.log_format)
    return run(lambda: serve(args), logger=logger)


if __name__ == "__main__":
    sys.exit(main())
