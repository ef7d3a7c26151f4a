"""bench/service: what a ClusterIP costs compared with talking to the pods directly.

Brings up a process-mode cluster (etcd, API server, controllers, scheduler,
two kubelet + kube-proxy nodes, as ``tests/e2e/cluster.py`` does), runs a
3-replica ``k8py/hello`` Deployment behind a Service and a toolbox client pod,
then runs one small load generator inside the client twice: through the
ClusterIP (each new connection DNATed by kube-proxy's rules in the client's
namespace) and straight to the replicas' pod IPs, round-robin, so both runs
reach the same three servers and the difference is the service path alone.
The app closes every connection, so each request is a new connection and
passes the NAT rules.  Load is closed-loop: ``--threads`` workers, each
request after the previous, bounded by ``--seconds`` and ``--max-requests``
per round; ``--rounds`` alternate the two paths so background load on the
machine affects both alike.

Prints one line: requests/s and p99 latency for both paths and the ratio.

    python bench/service.py [--threads 8] [--seconds 5] [--rounds 2] [--max-requests 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.conftest import ApiServerProcess, Etcd  # noqa: E402
from tests.e2e.cluster import ServiceCluster, client_pod, deployment, exec_in  # noqa: E402
from tests.e2e.conftest import DockerCluster, wait_for  # noqa: E402

NS = "bench-service"
# Runs inside the toolbox pod: python3 with threads and http.client only.
LOADGEN = r"""
import http.client, itertools, json, sys, threading, time
targets = [t.rsplit(":", 1) for t in sys.argv[1].split(",")]
threads, seconds, limit = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
turn = itertools.count()
latencies, errors = [], [0]
lock = threading.Lock()
deadline = time.monotonic() + seconds
def worker():
    mine, failed = [], 0
    while time.monotonic() < deadline:
        n = next(turn)
        if n >= limit:
            break
        host, port = targets[n % len(targets)]
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", "/")
            body = conn.getresponse().read()
            conn.close()
            if not body.startswith(b"Hello"):
                raise ValueError(body[:40])
            mine.append(time.perf_counter() - start)
        except Exception:
            failed += 1
    with lock:
        latencies.extend(mine)
        errors[0] += failed
began = time.monotonic()
pool = [threading.Thread(target=worker) for _ in range(threads)]
for t in pool: t.start()
for t in pool: t.join()
elapsed = time.monotonic() - began
print(json.dumps({"errors": errors[0], "elapsed": elapsed,
                  "latencies": [round(x, 5) for x in latencies]}))
"""


def _create(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    response.raise_for_status()
    return dict(response.json())


def _ready_pod_ips(http: httpx.Client) -> list[str]:
    pods = http.get(f"/api/v1/namespaces/{NS}/pods", params={"labelSelector": "app=web"}).json()
    return sorted(p["status"]["podIP"] for p in pods.get("items") or []
                  if any(c["type"] == "Ready" and c["status"] == "True"
                         for c in p["status"].get("conditions") or []))


def _reaches(docker: DockerCluster, cluster_ip: str) -> bool:
    running = [c for c in docker.containers(namespace=NS, pod="client", container="client")
               if c.status == "running"]
    return bool(running) and exec_in(docker, NS, "client", "client", "curl", "-sf", "-m", "3",
                                     f"http://{cluster_ip}/")[0] == 0


def _load(docker: DockerCluster, targets: list[str], args: argparse.Namespace) -> dict[str, Any]:
    code, out = exec_in(docker, NS, "client", "client", "python3", "-c", LOADGEN,
                        ",".join(targets), str(args.threads), str(args.seconds),
                        str(args.max_requests))
    if code != 0:
        raise RuntimeError(f"load generator failed ({code}): {out[-500:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _combine(rounds: list[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    elapsed = sum(r["elapsed"] for r in rounds)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
    return {"rps": len(latencies) / elapsed if elapsed else 0.0, "p99": p99,
            "errors": sum(r["errors"] for r in rounds)}


def run(args: argparse.Namespace, api_url: str, docker: DockerCluster, log_dir: Path) -> str:
    cluster = ServiceCluster(api_url, docker, log_dir)
    try:
        cluster.start()
        with httpx.Client(base_url=api_url, timeout=15) as http:
            _create(http, "/api/v1/namespaces", {"metadata": {"name": NS}})
            _create(http, f"/apis/apps/v1/namespaces/{NS}/deployments",
                    deployment("web", 3, cluster.node_selector))
            svc = _create(http, f"/api/v1/namespaces/{NS}/services", {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"},
                         "ports": [{"port": 80, "targetPort": "http"}]}})
            _create(http, f"/api/v1/namespaces/{NS}/pods",
                    client_pod("client", cluster.nodes[0].name))
            pod_ips = wait_for(lambda: len(ips := _ready_pod_ips(http)) == 3 and ips, 120,
                               what="3 ready replicas")
            wait_for(lambda: _reaches(docker, svc["spec"]["clusterIP"]), 60,
                     what="the client reaching the Service")
        warm = argparse.Namespace(**{**vars(args), "seconds": 1.0})
        _load(docker, [f"{svc['spec']['clusterIP']}:80"], warm)
        service_rounds, direct_rounds = [], []
        for _ in range(args.rounds):  # interleaved, so background noise hits both alike
            service_rounds.append(_load(docker, [f"{svc['spec']['clusterIP']}:80"], args))
            direct_rounds.append(_load(docker, [f"{ip}:8080" for ip in pod_ips], args))
        via_service, direct = _combine(service_rounds), _combine(direct_rounds)
    finally:
        cluster.stop()
    ratio = via_service["rps"] / direct["rps"] if direct["rps"] else float("nan")
    return (f"service clusterip_rps={via_service['rps']:.0f} "
            f"clusterip_p99={via_service['p99'] * 1000:.1f}ms "
            f"podip_rps={direct['rps']:.0f} podip_p99={direct['p99'] * 1000:.1f}ms "
            f"ratio={ratio:.2f} errors={via_service['errors']}+{direct['errors']} "
            f"threads={args.threads} seconds={args.seconds:g}x{args.rounds} replicas=3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=20000,
                        help="cap per round and path")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds per path; figures cover all of them")
    args = parser.parse_args()
    etcd = Etcd()
    etcd.start()
    server = ApiServerProcess(etcd.url)
    docker = DockerCluster()
    log_dir = Path(tempfile.mkdtemp(prefix="k8py-bench-service-"))
    started = time.monotonic()
    try:
        docker.ensure_images()
        server.start()
        line = run(args, server.url, docker, log_dir)
    finally:
        docker.cleanup()
        server.stop()
        etcd.stop()
    print(f"{line} setup+run={time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
