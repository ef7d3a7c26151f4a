"""``python -m ingress``: the ingress controller process.

Wiring only: informers over Ingresses, IngressClasses, Services and
EndpointSlices feed a lazily rebuilt ``RouteTable`` (``CacheView``), the
``IngressProxy`` serves it on ``--bind-address:--port`` once the caches
have synced (serving 404s from an empty cache would be a lie), and the
``StatusController`` publishes ``--publish-address`` in every served
Ingress.  In process mode the proxy listens on 127.0.0.1:8080; the compose
cluster publishes port 80.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import sys

from ingress.proxy import IngressProxy, ProxyTimeouts
from ingress.routes import CONTROLLER, RouteTable, build_table
from ingress.status import StatusController, ensure_ingress_class
from machinery import errors
from machinery.apiflags import add_api_flags, check_api_flags, client_from_args
from machinery.cacheview import CacheView
from machinery.client import ApiClient
from machinery.component import Health, add_common_flags, flag, run, serving_health, setup_logging
from machinery.informer import SharedInformerFactory

__all__ = ["build_parser", "main"]

log = logging.getLogger("ingress")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingress",
        description="k8py ingress controller: an HTTP reverse proxy for networking.k8s.io/v1 "
                    "Ingresses")
    add_api_flags(parser)
    flag(parser, "--bind-address", env="K8PY_INGRESS_BIND_ADDRESS", default="127.0.0.1",
         help="address the proxy listens on")
    flag(parser, "--port", env="K8PY_INGRESS_PORT", default=8080, type=int,
         help="port the proxy listens on")
    flag(parser, "--publish-address", env="K8PY_INGRESS_PUBLISH_ADDRESS", default=None,
         help="address written to Ingress status (default: --bind-address, or 127.0.0.1 "
              "when that is a wildcard)")
    flag(parser, "--ingress-class", env="K8PY_INGRESS_CLASS", default="k8py",
         help="IngressClass created at startup as the cluster default")
    flag(parser, "--controller-class", env="K8PY_INGRESS_CONTROLLER_CLASS", default=CONTROLLER,
         help="spec.controller of the IngressClasses this controller serves")
    flag(parser, "--connect-timeout", env="K8PY_INGRESS_CONNECT_TIMEOUT", default=5.0,
         type=float, help="seconds to connect to a backend endpoint")
    flag(parser, "--read-timeout", env="K8PY_INGRESS_READ_TIMEOUT", default=60.0, type=float,
         help="seconds to wait for a backend's response head")
    add_common_flags(parser, health_port=10254)
    return parser


def _publish_address(args: argparse.Namespace) -> str:
    if args.publish_address:
        return str(args.publish_address)
    try:
        if ipaddress.ip_address(args.bind_address).is_unspecified:
            return "127.0.0.1"
    except ValueError:
        pass
    return str(args.bind_address)


async def _ensure_class(client: ApiClient, name: str, controller: str) -> None:
    """Create our IngressClass, retrying while the API server cannot be reached."""
    while True:
        try:
            await ensure_ingress_class(client, name, controller)
            return
        except errors.ApiError as exc:
            log.warning("cannot ensure IngressClass %s yet: %s", name, exc)
        await asyncio.sleep(2.0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = setup_logging("ingress", args.log_level, args.log_format)
    try:
        check_api_flags(args)
    except ValueError as exc:  # includes KubeconfigError
        parser.error(str(exc))

    async def serve() -> None:
        client = client_from_args(args, "k8py-ingress")
        factory = SharedInformerFactory(client)
        ingresses, classes, services, slices = (factory.informer(r) for r in (
            "ingresses", "ingressclasses", "services", "endpointslices"))

        def table() -> RouteTable:
            return build_table(ingresses.list(), classes.list(), services.list(), slices.list(),
                               controller=args.controller_class)

        view = CacheView([ingresses, classes, services, slices], table)
        proxy = IngressProxy(view.get, timeouts=ProxyTimeouts(
            connect=args.connect_timeout, response=args.read_timeout))
        status = StatusController(client, ingresses, classes, _publish_address(args),
                                  controller=args.controller_class)
        health = Health()
        health.add_check("informer-sync", lambda: all(
            i.has_synced() for i in factory.informers()), ready_only=True)
        health.add_check("listening", lambda: proxy.listening, ready_only=True)
        async with client, serving_health(health, args.health_address, args.health_port) as port:
            logger.info("ingress controller %s; health and metrics on %s:%d",
                        args.controller_class, args.health_address, port)
            worker: asyncio.Task[None] | None = None
            try:
                await _ensure_class(client, args.ingress_class, args.controller_class)
                await factory.start_and_sync(
                    logger, "waiting for the ingress, class, service and endpointslice caches")
                await proxy.start(args.bind_address, args.port)
                logger.info("proxying on %s:%d, publishing %s", args.bind_address, proxy.port,
                            _publish_address(args))
                worker = asyncio.create_task(status.run())
                await worker
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                await proxy.close()
                await factory.stop()

    return run(serve, logger=logger)


if __name__ == "__main__":
    sys.exit(main())
