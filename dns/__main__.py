"""``python -m dns``: the cluster DNS server process.

Wiring only: informers over Services, EndpointSlices and Pods feed a lazily
rebuilt ``Zone``; a ``DnsServer`` answers from it on ``--bind-address`` once
the caches have synced (answering NXDOMAIN from an empty cache would poison
resolvers' negative caches); the ``DnsService`` publication is re-checked
every ``--publish-interval`` seconds.

The default address is the cluster bridge's gateway (10.244.0.1), the one
address every pod can reach.  The bridge appears only when the first kubelet
creates the cluster network, so binding is retried every second until it
succeeds, and the server is not ready until then.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import sys
import time

from dns.forward import Forwarder, Upstream, parse_upstream
from dns.publish import DnsService
from dns.records import Zone, build_zone
from dns.server import DnsServer, Resolver
from machinery import errors
from machinery.apiflags import add_api_flags, check_api_flags, client_from_args
from machinery.cacheview import CacheView
from machinery.client import ApiClient
from machinery.component import Health, add_common_flags, flag, run, serving_health, setup_logging
from machinery.informer import SharedInformerFactory

__all__ = ["build_parser", "main"]

log = logging.getLogger("dns")


def _upstreams(text: str) -> list[Upstream]:
    return [parse_upstream(part) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dns",
        description="k8py cluster DNS: Services, endpoints and pods under the cluster domain, "
                    "other names forwarded upstream")
    add_api_flags(parser)
    flag(parser, "--bind-address", env="K8PY_DNS_BIND_ADDRESS", default="10.244.0.1",
         help="address to serve on (the cluster bridge's gateway, reachable from every pod)")
    flag(parser, "--port", env="K8PY_DNS_PORT", default=53, type=int, help="UDP and TCP port")
    flag(parser, "--advertise-address", env="K8PY_DNS_ADVERTISE_ADDRESS", default=None,
         help="address published in the kube-dns endpoints (default: --bind-address)")
    flag(parser, "--cluster-domain", env="K8PY_CLUSTER_DOMAIN", default="cluster.local",
         help="the cluster's DNS domain")
    flag(parser, "--service-ip", env="K8PY_DNS_SERVICE_IP", default="10.96.0.10",
         help="ClusterIP of the kube-system/kube-dns Service (the kubelets' --cluster-dns)")
    flag(parser, "--publish", env="K8PY_DNS_PUBLISH", default=True, type=bool,
         help="keep the kube-dns Service, Endpoints and EndpointSlice pointing here")
    flag(parser, "--publish-interval", env="K8PY_DNS_PUBLISH_INTERVAL", default=10.0,
         type=float, help="seconds between checks of the kube-dns objects")
    flag(parser, "--upstream-resolv-conf", env="K8PY_DNS_UPSTREAM_RESOLV_CONF",
         default="/etc/resolv.conf", help="resolv.conf whose nameservers get other names")
    flag(parser, "--upstream", env="K8PY_DNS_UPSTREAM", default="",
         help="comma-separated ADDR[:PORT] upstreams (instead of --upstream-resolv-conf)")
    flag(parser, "--forward-timeout", env="K8PY_DNS_FORWARD_TIMEOUT", default=2.0, type=float,
         help="seconds to wait for each upstream")
    add_common_flags(parser, health_port=9153)
    return parser


async def _bind(server: DnsServer) -> None:
    """Bind, retrying every second while the address is not (yet) available."""
    said = ""
    while True:
        try:
            await server.start()
            return
        except OSError as exc:
            if str(exc) != said:
                log.info("cannot bind %s:%d yet, retrying: %s", server.host, server.port, exc)
                said = str(exc)
        await asyncio.sleep(1.0)


async def _publish_loop(service: DnsService, client: ApiClient, interval: float) -> None:
    """Keep kube-dns pointing here; API errors are retried at the next check."""
    while True:
        try:
            await service.ensure(client)
        except errors.ApiError as exc:
            log.warning("cannot publish %s/%s: %s", service.namespace, service.name, exc)
        await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = setup_logging("dns", args.log_level, args.log_format)
    try:
        check_api_flags(args)
        upstreams = _upstreams(args.upstream)
        ipaddress.ip_address(args.service_ip)
        advertise = args.advertise_address or args.bind_address
        if ipaddress.ip_address(advertise).is_unspecified:
            raise ValueError("--advertise-address is needed when --bind-address is a wildcard")
    except ValueError as exc:  # includes KubeconfigError
        parser.error(str(exc))

    async def serve() -> None:
        client = client_from_args(args, "k8py-dns")
        factory = SharedInformerFactory(client)
        informers = [factory.informer(r) for r in ("services", "endpointslices", "pods")]

        def zone() -> Zone:
            services, slices, pods = (i.list() for i in informers)
            return build_zone(services, slices, pods, domain=args.cluster_domain,
                              dns_ip=args.service_ip, serial=int(time.time()))

        view = CacheView(informers, zone)
        own = {Upstream(args.bind_address, args.port), Upstream(args.service_ip, 53)}
        forwarder = Forwarder(upstreams, resolv_conf=None if upstreams else
                              args.upstream_resolv_conf, own=own, timeout=args.forward_timeout)
        server = DnsServer(Resolver(view.get, forwarder), args.bind_address, args.port)
        health = Health()
        health.add_check("informer-sync", lambda: all(i.has_synced() for i in informers),
                         ready_only=True)
        health.add_check("listening", lambda: server.listening, ready_only=True)
        async with client, serving_health(health, args.health_address, args.health_port) as port:
            logger.info("cluster DNS for %s; health and metrics on %s:%d", args.cluster_domain,
                        args.health_address, port)
            tasks: list[asyncio.Task[None]] = []
            try:
                await factory.start_and_sync(
                    logger, "waiting for the service, endpointslice and pod caches to sync")
                await _bind(server)
                logger.info("serving DNS on %s:%d (udp, tcp)", args.bind_address, server.port)
                if args.publish:
                    published = DnsService(args.service_ip, advertise, server.port)
                    tasks.append(asyncio.create_task(
                        _publish_loop(published, client, args.publish_interval)))
                await asyncio.Event().wait()
            finally:
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*tasks, return_exceptions=True)
                await server.close()
                await factory.stop()

    return run(serve, logger=logger)


if __name__ == "__main__":
    sys.exit(main())
