"""Local cluster start-up time and resident memory.

``python bench/cluster.py [--nodes 3]`` runs ``k8py cluster up --nodes 3
--no-build`` (the images must exist: images/build.sh all) in the compose
project ``k8py-bench``, timing it until every node is Ready, lets the
cluster idle for a few seconds, reads the resident memory (VmRSS) of every
process in its containers from /proc (their host PIDs, from ``docker top``),
then takes the cluster down again.  Prints one line:

    cluster nodes=3 up=7.9s control_plane_rss=210MB node_agents_rss=95MB ...

control_plane_rss is apiserver + scheduler + controller manager; node_agents_rss
is one node's kubelet + kube-proxy (the largest node); node_rss adds the node
container's supervisor.  Targets: up <= 15 s, control plane <= 250 MB,
node agents <= 100 MB.

The compose cluster has fixed host addresses, so this takes the same lock as
tests/e2e/test_walkthrough.py and refuses to run while a `k8py` cluster is up.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K8PY = str(ROOT / ".venv" / "bin" / "k8py")
PROJECT = "k8py-bench"
LOCK = Path(tempfile.gettempdir()) / "k8py-compose-cluster.lock"
CONTROL_PLANE = ("apiserver", "scheduler", "controller-manager")


def _out(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout


def _containers(service: str) -> list[str]:
    return _out(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
                 "--filter", f"label=com.docker.compose.service={service}"]).split()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes(container: str) -> list[tuple[int, str]]:
    """(host pid, command line) of a container's processes, as `docker top` lists them,
    leaving out healthcheck probes that happen to run at that moment."""
    lines = _out(["docker", "top", container, "-eo", "pid,args"]).splitlines()[1:]
    found = [(int(pid), args) for pid, _, args in (line.strip().partition(" ") for line in lines)]
    return [(pid, args) for pid, args in found
            if "--check" not in args and not args.startswith("bash -c")]


def rss_mb(pids: list[int]) -> float:
    return sum(_rss_kb(pid) for pid in pids) / 1024


def measure(nodes: int, settle: float) -> dict[str, str]:
    kubeconfig = Path(tempfile.mkdtemp(prefix="k8py-bench-")) / "config"
    env = dict(os.environ, K8PY_COMPOSE_PROJECT=PROJECT)
    started = time.monotonic()
    subprocess.run([K8PY, "cluster", "up", "--nodes", str(nodes), "--no-build",
                    "--kubeconfig", str(kubeconfig)], env=env, check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    up = time.monotonic() - started
    try:
        time.sleep(settle)
        control = [pid for s in CONTROL_PLANE for c in _containers(s) for pid, _ in processes(c)]
        per_node = []
        for container in _containers("node"):
            procs = processes(container)
            kubelet = [pid for pid, args in procs if " -m kubelet " in f"{args} "]
            proxy = [pid for pid, args in procs if " -m kubeproxy " in f"{args} "]
            per_node.append((rss_mb(kubelet + proxy), rss_mb([pid for pid, _ in procs]),
                             rss_mb(kubelet), rss_mb(proxy)))
        etcd = [pid for c in _containers("etcd") for pid, _ in processes(c)]
        addons = [pid for s in ("dns", "ingress") for c in _containers(s) for pid, _ in processes(c)]
        agents_mb, node_mb, kubelet_mb, proxy_mb = max(per_node)
        return {"nodes": str(nodes), "up": f"{up:.1f}s",
                "control_plane_rss": f"{rss_mb(control):.0f}MB",
                "node_agents_rss": f"{agents_mb:.0f}MB", "kubelet_rss": f"{kubelet_mb:.0f}MB",
                "kube_proxy_rss": f"{proxy_mb:.0f}MB", "node_rss": f"{node_mb:.0f}MB",
                "etcd_rss": f"{rss_mb(etcd):.0f}MB", "dns_ingress_rss": f"{rss_mb(addons):.0f}MB"}
    finally:
        subprocess.run([K8PY, "cluster", "down", "--kubeconfig", str(kubeconfig)], env=env,
                       timeout=300, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds of idling before memory is read")
    args = parser.parse_args()
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _out(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=k8py"]).strip():
            print("a k8py cluster is running on the same host addresses: stop it first "
                  "(k8py cluster down --keep-data keeps its data)", file=sys.stderr)
            return 1
        figures = measure(args.nodes, args.settle)
    print("cluster " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
