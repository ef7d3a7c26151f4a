"""``python -m dns`` as a process against a real API server (etcd-backed), on loopback.

Its upstream is a fake resolver on 127.0.0.1, so no query ever leaves the
machine; it publishes kube-dns with a documentation address (192.0.2.1)
that nothing is ever sent to, and the objects are removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from dnslib import RCODE

from tests.conftest import ROOT, ApiServerProcess, free_port
from tests.dns.dnsclient import FakeUpstream, tcp_query, udp_query

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
ADVERTISED = "192.0.2.1"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream(address="192.0.2.99").start()
    yield fake
    fake.close()


@pytest.fixture
def kube_dns_cleanup(apiserver: ApiServerProcess) -> Iterator[None]:
    yield
    for path in ("/api/v1/namespaces/kube-system/services/kube-dns",
                 "/api/v1/namespaces/kube-system/endpoints/kube-dns",
                 "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/kube-dns-k8py"):
        httpx.delete(apiserver.url + path)


async def wait_ready(proc: subprocess.Popen[bytes], health_port: int) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            assert proc.poll() is None, "python -m dns exited early"
            try:
                if (await http.get(f"http://127.0.0.1:{health_port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("python -m dns never became ready")


async def test_dns_process_serves_publishes_forwards_and_stops(
        apiserver: ApiServerProcess, namespace: str, upstream: FakeUpstream,
        kube_dns_cleanup: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port, health_port = free_port(), free_port()
    log = open(tmp_path / "dns.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dns", "--master", apiserver.url, "--bind-address", "127.0.0.1",
         "--port", str(port), "--advertise-address", ADVERTISED,
         "--upstream", f"127.0.0.1:{upstream.port}", "--health-address", "127.0.0.1",
         "--health-port", str(health_port)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log,
        stderr=subprocess.STDOUT)
    try:
        await wait_ready(proc, health_port)
        reply = await udp_query(port, "kubernetes.default.svc.cluster.local")
        assert [str(rr.rdata) for rr in reply.rr] == ["10.96.0.1"]

        async def published() -> list[str]:
            while True:
                found = await tcp_query(port, "kube-dns.kube-system.svc.cluster.local")
                if found.rr:
                    return [str(rr.rdata) for rr in found.rr]
                await asyncio.sleep(0.05)

        assert await asyncio.wait_for(published(), 5) == ["10.96.0.10"]
        async with httpx.AsyncClient(base_url=apiserver.url) as api:
            slice_ = (await api.get("/apis/discovery.k8s.io/v1/namespaces/kube-system/"
                                    "endpointslices/kube-dns-k8py")).json()
            assert slice_["endpoints"][0]["addresses"] == [ADVERTISED]
            created = await api.post(f"/api/v1/namespaces/{namespace}/services", json={
                "metadata": {"name": "fresh"},
                "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})
            assert created.status_code == 201, created.text

        async def exists() -> None:
            name = f"fresh.{namespace}.svc.cluster.local"
            while (await udp_query(port, name)).header.rcode != RCODE.NOERROR:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(exists(), 1.5)
        forwarded = await udp_query(port, "www.example.test")
        assert [str(rr.rdata) for rr in forwarded.rr] == ["192.0.2.99"]
        assert upstream.asked == [("udp", "www.example.test", "A")]
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{health_port}/metrics")).text
        assert 'k8py_dns_requests_total{proto="udp",type="A"}' in metrics
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        log.close()
