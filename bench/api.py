"""bench/api: API server throughput and latency on a real etcd.

Three phases against a fresh etcd + ``python -m apiserver``:

1. a paced mix of single-object verbs (create, get, update, delete on
   configmaps and pods, plus namespaced lists) at a fixed total rate,
   reporting p50/p99 per verb;
2. unpaced GETs from several client processes, reporting requests per second;
3. 500 open watches, reporting how long each change takes to reach all of them.

Prints one line of figures. No peer runs here (there is no kube-apiserver
binary on this machine), so there is no comparison figure.

    python bench/api.py [--rate 300] [--seconds 10] [--watchers 500]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time

import httpx
import orjson

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.conftest import ApiServerProcess, Etcd  # noqa: E402

NS = "bench"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def pod(name: str) -> dict:
    return {"metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "k8py/hello:1.0"}]}}


async def mixed(url: str, rate: float, seconds: float, worker: int) -> dict[str, list[float]]:
    """Open-loop load: one operation started every 1/rate seconds, whatever the latency."""
    lat: dict[str, list[float]] = {v: [] for v in ("create", "get", "update", "delete", "list")}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as c:
        cm_base = f"/api/v1/namespaces/{NS}/configmaps"
        pod_base = f"/api/v1/namespaces/{NS}/pods"
        counter = 0

        async def cycle(i: int) -> None:
            kind = "cm" if i % 2 else "pod"
            base = cm_base if kind == "cm" else pod_base
            name = f"w{worker}-{i}"
            body = {"metadata": {"name": name}, "data": {"v": "1"}} if kind == "cm" else pod(name)
            t = time.perf_counter()
            r = await c.post(base, content=orjson.dumps(body), headers={"Content-Type": "application/json"})
            lat["create"].append(time.perf_counter() - t)
            if r.status_code != 201:
                return
            t = time.perf_counter()
            obj = (await c.get(f"{base}/{name}")).json()
            lat["get"].append(time.perf_counter() - t)
            obj["metadata"].setdefault("labels", {})["touched"] = "yes"
            t = time.perf_counter()
            await c.put(f"{base}/{name}", content=orjson.dumps(obj), headers={"Content-Type": "application/json"})
            lat["update"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await c.get(base, params={"limit": "50"})
            lat["list"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await c.delete(f"{base}/{name}", params={"gracePeriodSeconds": "0"})
            lat["delete"].append(time.perf_counter() - t)

        # Each cycle is five requests, so cycles start at rate/5 per second.
        interval = 5.0 / rate
        tasks = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            tasks.append(asyncio.create_task(cycle(counter)))
            counter += 1
            await asyncio.sleep(max(0.0, start + counter * interval - time.perf_counter()))
        await asyncio.gather(*tasks)
    return lat


def wrk_reads(url: str, seconds: float) -> float:
    """Unpaced GETs from wrk, a C load generator: a Python client saturates before the server does."""
    import re
    import shutil
    import subprocess
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{max(1, int(seconds))}s", url],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or errors is not None:
        raise RuntimeError(f"wrk failed: {out}")
    return float(match.group(1))


def _run(fn, *args):  # type: ignore[no-untyped-def]
    return asyncio.run(fn(*args))


async def watchers(url: str, count: int, changes: int, out: "mp.Queue[list[float]]", ready: "mp.Event") -> None:
    """Hold ``count`` watches; report, per change, when each watcher saw it."""
    seen: list[list[float]] = [[] for _ in range(changes)]
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as c:
        rv = (await c.get(f"/api/v1/namespaces/{NS}/configmaps", params={"limit": "1"})).json()["metadata"]["resourceVersion"]
        opened = 0

        async def one() -> None:
            nonlocal opened
            async with c.stream("GET", f"/api/v1/namespaces/{NS}/configmaps",
                                params={"watch": "true", "resourceVersion": rv,
                                        "labelSelector": "watch=me"}) as r:
                opened += 1
                got = 0
                async for line in r.aiter_lines():
                    if not line:
                        continue
                    ev = orjson.loads(line)
                    if ev["type"] != "ADDED":
                        continue
                    idx = int(ev["object"]["metadata"]["name"].split("-")[1])
                    seen[idx].append(time.time())
                    got += 1
                    if got == changes:
                        return

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        while opened < count:
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    out.put([max(s) if len(s) == count else float("inf") for s in seen])


def _watchers(url: str, count: int, changes: int, out: "mp.Queue[list[float]]", ready: "mp.Event") -> None:
    asyncio.run(watchers(url, count, changes, out, ready))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=300.0, help="total requests per second in phase 1")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--watchers", type=int, default=500)
    p.add_argument("--changes", type=int, default=20)
    args = p.parse_args()

    etcd = Etcd()
    etcd.start()
    server = ApiServerProcess(etcd.url)
    try:
        server.start()
        httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
        httpx.post(f"{server.url}/api/v1/namespaces/{NS}/configmaps",
                   json={"metadata": {"name": "read-target"}, "data": {"x": "y" * 200}}).raise_for_status()

        lat = _run(mixed, server.url, args.rate, args.seconds, 0)
        total = sum(len(v) for v in lat.values())

        read_rps = wrk_reads(f"{server.url}/api/v1/namespaces/{NS}/configmaps/read-target", args.seconds)

        ctx = mp.get_context("spawn")
        out: mp.Queue[list[float]] = ctx.Queue()
        procs, readies = [], []
        per = [args.watchers // 2, args.watchers - args.watchers // 2]
        for n in per:
            ready = ctx.Event()
            proc = ctx.Process(target=_watchers, args=(server.url, n, args.changes, out, ready))
            proc.start()
            procs.append(proc)
            readies.append(ready)
        for r in readies:
            r.wait(60)
        sent = []
        with httpx.Client(base_url=server.url) as c:
            for i in range(args.changes):
                sent.append(time.time())
                c.post(f"/api/v1/namespaces/{NS}/configmaps",
                       json={"metadata": {"name": f"change-{i}", "labels": {"watch": "me"}}})
                time.sleep(0.2)
        results = [out.get(timeout=150) for _ in procs]
        for proc in procs:
            proc.join(10)
        delays = [max(r[i] for r in results) - sent[i] for i in range(args.changes)]

        print(
            f"api rate={args.rate:.0f}rps achieved={total / args.seconds:.0f}rps "
            + " ".join(f"{v}_p50={pct(lat[v], 0.5):.1f}ms {v}_p99={pct(lat[v], 0.99):.1f}ms" for v in lat)
            + f" reads={read_rps:.0f}rps watch{args.watchers}_p50={pct(delays, 0.5):.0f}ms"
            f" watch{args.watchers}_p99={pct(delays, 0.99):.0f}ms"
            f" watch{args.watchers}_max={max(delays) * 1000:.0f}ms peer=none(no kube-apiserver binary here)"
        )
    finally:
        server.stop()
        etcd.stop()


if __name__ == "__main__":
    main()
