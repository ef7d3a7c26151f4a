"""``python -m apiserver``: the k8py API server process.

Flags are named as kube-apiserver names them; each falls back to an
environment variable so the compose file and tests can configure it alike.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import uvicorn

from machinery.component import flag, setup_logging
from machinery.streams import KubeWebSocketProtocol

from .server import ApiServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m apiserver", description="The k8py API server: the Kubernetes API on etcd.")
    flag(p, "--etcd-servers", env="K8PY_ETCD_SERVERS", default="http://127.0.0.1:2379",
         help="comma-separated etcd client URLs, tried in order")
    flag(p, "--etcd-prefix", env="K8PY_ETCD_PREFIX", default="/registry", help="the etcd key prefix for all objects")
    flag(p, "--bind-address", env="K8PY_BIND_ADDRESS", default="127.0.0.1", help="address to listen on")
    flag(p, "--port", env="K8PY_PORT", default=6443, type=int, help="port to serve the API on (plain HTTP)")
    flag(p, "--advertise-address", env="K8PY_ADVERTISE_ADDRESS", default="",
         help="address published in the default/kubernetes endpoints (default: the bind address, "
              "or 127.0.0.1 when binding every interface)")
    flag(p, "--service-cluster-ip-range", env="K8PY_SERVICE_CLUSTER_IP_RANGE", default="10.96.0.0/12",
         help="CIDR from which Service cluster IPs are allocated")
    flag(p, "--service-node-port-range", env="K8PY_SERVICE_NODE_PORT_RANGE", default="30000-32767",
         help="port range reserved for NodePort Services")
    flag(p, "--watch-bookmark-interval", env="K8PY_WATCH_BOOKMARK_INTERVAL", default=5.0, type=float,
         help="seconds between BOOKMARK events on idle watches that asked for them")
    flag(p, "--etcd-compaction-interval", env="K8PY_ETCD_COMPACTION_INTERVAL", default=300.0, type=float,
         help="seconds between etcd compactions (history older than one interval is dropped)")
    flag(p, "--v", env="K8PY_LOG_LEVEL", default="info", help="log level: debug, info, warning, error")
    flag(p, "--log-format", env="K8PY_LOG_FORMAT", default="text", help="text or json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("apiserver", args.v, args.log_format)
    server = ApiServer(
        [u.strip() for u in args.etcd_servers.split(",") if u.strip()],
        service_cidr=args.service_cluster_ip_range,
        node_port_range=args.service_node_port_range,
        prefix=args.etcd_prefix,
        bookmark_interval=args.watch_bookmark_interval,
        compaction_interval=args.etcd_compaction_interval,
        advertise_address=args.advertise_address or (
            "127.0.0.1" if args.bind_address in ("0.0.0.0", "::", "") else args.bind_address),
        advertise_port=args.port,
    )
    config = uvicorn.Config(server.app, host=args.bind_address, port=args.port, log_level="warning",
                            access_log=False, timeout_graceful_shutdown=2, lifespan="on",
                            ws=KubeWebSocketProtocol, ws_max_size=16 * 1024 * 1024, ws_ping_interval=None)
    try:
        asyncio.run(uvicorn.Server(config).serve())
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        logging.getLogger("apiserver").error("fatal: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
