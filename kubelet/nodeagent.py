"""``python -m kubelet.nodeagent``: one compose ``node`` container = a kubelet + a kube-proxy.

The compose cluster scales nodes with ``docker compose up --scale node=N``:
every replica runs this same command with the same environment, so each one
must find a stable, unique identity by itself.  It asks the host's Docker
(through the mounted socket) about its own container: compose numbers
replicas (label ``com.docker.compose.container-number``, also the tail of
``k8py_node_3`` / ``k8py-node-3``), and replica ``n`` becomes node ``node-n``
on the loopback address ``127.0.1.n`` with its kubelet server on port
``10250+n``.  Numbers survive ``restart``, ``stop``/``start`` and ``down``/``up``,
so a node comes back as the same Node object and re-adopts its pods.

The agent then supervises the two processes as children: SIGTERM/SIGINT are
forwarded to both, and when either exits on its own the other is stopped and
the agent exits non-zero, so the container's restart policy brings the pair
back together rather than leaving half a node running.  ``--check`` is the
container's healthcheck: both children's ``/readyz`` must answer 200.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from machinery.component import flag, setup_logging

__all__ = ["NodeIdentity", "own_container_id", "replica_number", "discover", "main"]

COMPOSE_NUMBER_LABEL = "com.docker.compose.container-number"
KUBELET_HEALTH_PORT = 10248
PROXY_HEALTH_PORT = 10256
_STATE_FILE = "/tmp/k8py-node-health"
_CONTAINER_ID = re.compile(r"\b([0-9a-f]{64})\b")
_MOUNTED_ID = re.compile(r"/containers/([0-9a-f]{64})/")
_REPLICA_SUFFIX = re.compile(r"[-_](\d+)$")


@dataclass(frozen=True)
class NodeIdentity:
    """Where one node's agents listen; everything derives from the replica number."""

    number: int
    ip_prefix: str = "127.0.1."

    @property
    def name(self) -> str:
        return f"node-{self.number}"

    @property
    def ip(self) -> str:
        return f"{self.ip_prefix}{self.number}"

    @property
    def kubelet_port(self) -> int:
        return 10250 + self.number

    def pod_cidr(self, cluster_cidr: str, mask_size: int) -> str:
        """Block n of size ``mask_size`` of the cluster's pod network (10.244.3.0/24 for
        node-3 of 10.244.0.0/16), as a node IPAM controller would hand them out in order;
        block 0 stays Docker's.  Empty when the network has no block n."""
        try:
            network = ipaddress.ip_network(cluster_cidr, strict=False)
            if not 0 < self.number < 2 ** (mask_size - network.prefixlen):
                return ""
            return str(ipaddress.ip_network(
                (int(network.network_address) + (self.number << (network.max_prefixlen
                                                                 - mask_size)), mask_size)))
        except ValueError:
            return ""

    def health_urls(self) -> list[str]:
        """The kubelet's and kube-proxy's readiness, on the node's own address."""
        return [f"http://{self.ip}:{port}/readyz"
                for port in (KUBELET_HEALTH_PORT, PROXY_HEALTH_PORT)]


def own_container_id(proc: Path = Path("/proc/self")) -> str | None:
    """This process's container id, from its cgroup paths or, failing that, its mounts.

    cgroup v1 paths name the container (``/docker/<id>``); with a private
    cgroup namespace they read ``/`` instead, but Docker still bind-mounts
    ``/var/lib/docker/containers/<id>/hostname`` and friends into it.
    """
    try:
        found = _CONTAINER_ID.search((proc / "cgroup").read_text())
        if found:
            return found.group(1)
        found = _MOUNTED_ID.search((proc / "mountinfo").read_text())
        return found.group(1) if found else None
    except OSError:
        return None


def replica_number(inspect: dict[str, Any]) -> int:
    """Compose's replica number of a container, from its label or else its name."""
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    value = str(labels.get(COMPOSE_NUMBER_LABEL) or "")
    if not value.isdigit():
        found = _REPLICA_SUFFIX.search(str(inspect.get("Name") or "").lstrip("/"))
        if not found:
            raise ValueError(f"container {inspect.get('Name')} has no compose replica number")
        value = found.group(1)
    number = int(value)
    if not 1 <= number <= 254:
        raise ValueError(f"replica number {number} is outside 1..254 (one loopback address each)")
    return number


def discover(docker_host: str) -> int:
    """Ask Docker which replica this container is (needs the mounted Docker socket)."""
    import docker  # type: ignore[import-untyped]  # only here: --check and --number never pay for the import

    container_id = own_container_id()
    if container_id is None:
        raise RuntimeError("not inside a Docker container: pass --number (K8PY_NODE_NUMBER)")
    client = docker.APIClient(base_url=docker_host, timeout=30)
    try:
        return replica_number(client.inspect_container(container_id))
    finally:
        client.close()


class Supervisor:
    """Two child processes that live and die together."""

    def __init__(self, commands: dict[str, list[str]], grace: float,
                 log: logging.Logger) -> None:
        self.commands = commands
        self.grace = grace
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self.log = log

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.log.info("received %s, stopping the node's agents", signal.Signals(signum).name)
        self.stopping = True
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: int) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def _stop_all(self) -> None:
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def run(self) -> int:
        """Start both children and wait; the exit code (0 only after a requested stop)."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(self) -> int:
        for name, argv in self.commands.items():
            self.children[name] = subprocess.Popen(argv)
            self.log.info("started %s (pid %d)", name, self.children[name].pid)
        while not self.stopping:
            exited = [(n, c.returncode) for n, c in self.children.items() if c.poll() is not None]
            if exited:
                name, code = exited[0]
                self.log.error("%s exited with %s; stopping the node so it restarts whole",
                               name, code)
                self._stop_all()
                return code or 1
            time.sleep(0.2)
        self._stop_all()
        return 0


def check(state_file: str) -> int:
    """Healthcheck: every URL the running agent recorded answers 200."""
    import urllib.request  # here only: the long-running supervisor stays small

    try:
        urls = Path(state_file).read_text().split()
        for url in urls:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status != 200:
                    return 1
    except (OSError, ValueError):
        return 1
    return 0 if urls else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kubelet.nodeagent",
        description="k8py compose node: find this replica's identity, run kubelet + kube-proxy")
    flag(parser, "--api-server", env="K8PY_API_SERVER", default="http://127.0.0.1:6443",
         help="API server URL for both agents")
    flag(parser, "--docker-host", env="DOCKER_HOST", default="unix:///var/run/docker.sock",
         help="the host's Docker engine (asked for this container's replica number)")
    flag(parser, "--number", env="K8PY_NODE_NUMBER", default=0, type=int,
         help="replica number n (default: from Docker); node-n on <ip-prefix>n")
    flag(parser, "--ip-prefix", env="K8PY_NODE_IP_PREFIX", default="127.0.1.",
         help="node IPs are this prefix plus the replica number")
    flag(parser, "--stop-grace", env="K8PY_NODE_STOP_GRACE", default=8.0, type=float,
         help="seconds the agents get to exit after SIGTERM before they are killed")
    flag(parser, "--cluster-cidr", env="K8PY_POD_CIDR", default="10.244.0.0/16",
         help="the cluster's pod network; node-n's kubelet gets its block n as --node-pod-cidr")
    flag(parser, "--node-cidr-mask-size", env="K8PY_NODE_CIDR_MASK_SIZE", default=24, type=int,
         help="prefix length of each node's block of --cluster-cidr (0: Docker's IPAM "
              "assigns pod addresses)")
    parser.add_argument("--check", action="store_true",
                        help="healthcheck mode: exit 0 when both agents are ready")
    return parser


def agent_commands(node: NodeIdentity, api_server: str,
                   pod_cidr: str = "") -> dict[str, list[str]]:
    """The two children's command lines; other settings reach them as K8PY_* variables."""
    python = sys.executable
    return {
        "kubelet": [python, "-m", "kubelet", "--node-name", node.name, "--node-ip", node.ip,
                    "--port", str(node.kubelet_port), "--api-server", api_server,
                    "--health-address", node.ip, "--health-port", str(KUBELET_HEALTH_PORT),
                    "--node-pod-cidr", pod_cidr],
        "kube-proxy": [python, "-m", "kubeproxy", "--node-name", node.name, "--node-ip", node.ip,
                       "--master", api_server, "--health-address", node.ip,
                       "--health-port", str(PROXY_HEALTH_PORT)],
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.check:
        return check(_STATE_FILE)
    log = setup_logging("nodeagent")
    try:
        number = args.number or discover(args.docker_host)
    except Exception as exc:  # a node that cannot name itself must not start half-way
        log.error("cannot determine this node's identity: %s", exc)
        return 2
    node = NodeIdentity(number, args.ip_prefix)
    log.info("this is %s: node IP %s, kubelet port %d", node.name, node.ip, node.kubelet_port)
    Path(_STATE_FILE).write_text(" ".join(node.health_urls()) + "\n")
    pod_cidr = node.pod_cidr(args.cluster_cidr, args.node_cidr_mask_size) \
        if args.node_cidr_mask_size else ""
    return Supervisor(agent_commands(node, args.api_server, pod_cidr), args.stop_grace,
                      log).run()


if __name__ == "__main__":
    sys.exit(main())
