"""``python -m kubelet``: parse flags, connect to the API server, run until SIGTERM.

SIGTERM stops the kubelet but not its pods: they keep running in Docker and
the next kubelet on this node adopts them.
"""

from __future__ import annotations

import asyncio
import sys

from kubelet.config import build_parser, from_args
from kubelet.kubelet import Kubelet
from kubelet.server import KubeletServer
from machinery.client import ApiClient
from machinery.component import Health, run, serving_health, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = setup_logging("kubelet", args.log_level, args.log_format)
    try:
        config = from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    async def serve() -> None:
        if config.kubeconfig:
            client = ApiClient.from_kubeconfig(config.kubeconfig)
        else:
            client = ApiClient(str(config.api_server), user_agent=f"kubelet/{config.version}")
        kubelet = Kubelet(config, client)
        # Logs, exec, attach and port-forward, reached through the API server.
        streaming = KubeletServer(kubelet.runtime, lambda ns, name: kubelet.informer.get(f"{ns}/{name}"),
                                  config.docker_host, host=config.node_ip, port=config.port)
        streaming.bind()
        health = Health()
        kubelet.add_checks(health)
        async with client, serving_health(health, config.health_address,
                                          config.health_port) as port:
            logger.info("health and metrics on %s:%d", config.health_address, port)
            async with asyncio.TaskGroup() as group:
                group.create_task(kubelet.run())
                group.create_task(streaming.serve())

    return run(serve, logger=logger)


if __name__ == "__main__":
    sys.exit(main())
