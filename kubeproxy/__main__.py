"""``python -m kubeproxy``: the per-node service proxy process.

Runs beside the kubelet of the node it is named after (same ``--node-name``,
``--cluster-name`` and ``--docker-host``, so it finds the same sandboxes)
and with the same ``--node-ip``, where its NodePorts answer.  SIGTERM stops
it and leaves every rule in place; the next kube-proxy adopts them.  While
it runs it holds the Lease ``kube-system/kube-proxy-<node>`` (see
``machinery.presence``), so the node's kubelet knows to wait for its rules.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import sys

from kubeproxy.proxier import ProxyConfig, Proxier
from machinery.apiflags import add_api_flags, check_api_flags, client_from_args
from machinery.component import Health, add_common_flags, flag, run, serving_health, setup_logging
from machinery.presence import PresenceAnnouncer

__all__ = ["build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kubeproxy",
        description="k8py kube-proxy: Service rules in this node's pods, NodePort and "
                    "LoadBalancer listeners")
    flag(parser, "--node-name", env="K8PY_NODE_NAME", default=socket.gethostname(),
         help="the node whose pods this proxy serves (as the kubelet's --node-name)")
    add_api_flags(parser)
    flag(parser, "--docker-host", env="DOCKER_HOST", default="unix:///var/run/docker.sock",
         help="Docker engine running this node's pods")
    flag(parser, "--cluster-name", env="K8PY_CLUSTER_NAME", default="k8py",
         help="io.k8py.cluster label of this cluster's Docker objects")
    flag(parser, "--service-cluster-ip-range", env="K8PY_SERVICE_CLUSTER_IP_RANGE",
         default="10.96.0.0/12", help="service CIDR (as the API server's and the kubelet's)")
    flag(parser, "--node-ip", env="K8PY_NODE_IP", default="127.0.0.1",
         help="the node's address, where NodePorts listen besides 127.0.0.1")
    flag(parser, "--sync-period", env="K8PY_SYNC_PERIOD", default=30.0, type=float,
         help="seconds between full resyncs of sandboxes, rules and listeners")
    add_common_flags(parser, health_port=10256)
    return parser


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    if args.sync_period <= 0:
        raise ValueError("--sync-period must be positive")
    ipaddress.ip_network(args.service_cluster_ip_range, strict=False)
    ipaddress.ip_address(args.node_ip)
    return ProxyConfig(node_name=args.node_name, node_ip=args.node_ip,
                       cluster_name=args.cluster_name, docker_host=args.docker_host,
                       service_cluster_ip_range=args.service_cluster_ip_range,
                       sync_period=args.sync_period)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = setup_logging("kube-proxy", args.log_level, args.log_format)
    try:
        config = config_from_args(args)
        check_api_flags(args)
    except ValueError as exc:  # includes KubeconfigError and a malformed CIDR
        parser.error(str(exc))

    async def serve() -> None:
        client = client_from_args(args, "k8py-kube-proxy")
        proxier = Proxier(client, config)
        health = Health()
        proxier.add_checks(health)
        async with client, serving_health(health, args.health_address, args.health_port) as port:
            logger.info("kube-proxy for node %s (node IP %s); health and metrics on %s:%d",
                        config.node_name, config.node_ip, args.health_address, port)
            # The Lease tells this node's kubelet to wait for our rules in each new pod.
            announcer = PresenceAnnouncer(client, "kube-proxy", config.node_name)
            async with asyncio.TaskGroup() as group:
                group.create_task(proxier.run())
                group.create_task(announcer.run())

    return run(serve, logger=logger)


if __name__ == "__main__":
    sys.exit(main())
