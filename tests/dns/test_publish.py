"""kube-dns publication and informer-driven answers, against the in-memory fake API."""

from __future__ import annotations

import asyncio

import pytest
from dnslib import RCODE

from dns.publish import MANAGED_BY, DnsService
from dns.records import build_zone
from dns.server import DnsServer, Resolver
from machinery.cacheview import CacheView
from machinery.client import ApiClient
from machinery.informer import SharedInformerFactory
from machinery.resources import lookup
from tests.dns.dnsclient import udp_query
from tests.dns.fixtures import endpoint, endpoint_slice, service
from tests.machinery.client_fakeapi import FakeApiServer

pytestmark = pytest.mark.timeout(30)
SERVICES, SLICES, ENDPOINTS = lookup("services"), lookup("endpointslices"), lookup("endpoints")
assert SERVICES and SLICES and ENDPOINTS


async def test_ensure_creates_the_service_endpoints_and_slice(fake: FakeApiServer,
                                                              client: ApiClient) -> None:
    published = DnsService("10.96.0.10", "10.244.0.1", 53)
    assert await published.ensure(client) is True
    svc = fake.table(SERVICES)[("kube-system", "kube-dns")]
    assert svc["spec"]["clusterIP"] == "10.96.0.10" and "selector" not in svc["spec"]
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert [(p["name"], p["protocol"], p["port"]) for p in svc["spec"]["ports"]] == [
        ("dns", "UDP", 53), ("dns-tcp", "TCP", 53)]
    [slice_] = fake.table(SLICES).values()
    assert slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == MANAGED_BY
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert slice_["endpoints"][0]["addresses"] == ["10.244.0.1"]
    endpoints = fake.table(ENDPOINTS)[("kube-system", "kube-dns")]
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "10.244.0.1"}]
    assert endpoints["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"


async def test_ensure_is_idempotent_and_repairs(fake: FakeApiServer, client: ApiClient) -> None:
    published = DnsService("10.96.0.10", "10.244.0.1", 5353)
    await published.ensure(client)
    writes = len([r for r in fake.requests if r.method != "GET"])
    assert await published.ensure(client) is False
    assert len([r for r in fake.requests if r.method != "GET"]) == writes
    fake.remove(SLICES, "kube-system", "kube-dns-k8py")
    edited = fake.table(ENDPOINTS)[("kube-system", "kube-dns")]
    edited["subsets"] = []
    fake.put(ENDPOINTS, edited)
    assert await published.ensure(client) is True
    assert fake.table(ENDPOINTS)[("kube-system", "kube-dns")]["subsets"][0]["ports"][0][
        "port"] == 5353
    assert ("kube-system", "kube-dns-k8py") in fake.table(SLICES)


async def test_a_foreign_selector_is_removed_and_labels_restored(
        fake: FakeApiServer, client: ApiClient) -> None:
    other = service("kube-dns", "kube-system", cluster_ip="10.96.0.10", selector={"app": "x"})
    fake.put(SERVICES, other)
    assert await DnsService("10.96.0.10", "10.244.0.1").ensure(client) is True
    svc = fake.table(SERVICES)[("kube-system", "kube-dns")]
    assert svc["spec"].get("selector") is None
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"


async def test_answers_follow_the_informers_within_a_second(fake: FakeApiServer,
                                                            client: ApiClient) -> None:
    factory = SharedInformerFactory(client)
    informers = [factory.informer(r) for r in ("services", "endpointslices", "pods")]
    view = CacheView(informers, lambda: build_zone(*(i.list() for i in informers)))
    server = DnsServer(Resolver(view.get), "127.0.0.1", 0)
    await factory.start()
    assert await factory.wait_for_sync(5)
    await server.start()
    try:
        name = "db.default.svc.cluster.local"
        assert (await udp_query(server.port, name)).header.rcode == RCODE.NXDOMAIN
        fake.put(SERVICES, service("db", cluster_ip="None"))
        fake.put(SLICES, endpoint_slice("db", [endpoint("10.244.1.5")]))

        async def answer() -> list[str]:
            while True:
                reply = await udp_query(server.port, name)
                if reply.rr:
                    return [str(rr.rdata) for rr in reply.rr]
                await asyncio.sleep(0.02)

        assert await asyncio.wait_for(answer(), 1.0) == ["10.244.1.5"]
        builds = view.builds
        await udp_query(server.port, name)
        assert view.builds == builds  # nothing changed: no rebuild
        fake.remove(SERVICES, "default", "db")

        async def gone() -> None:
            while (await udp_query(server.port, name)).header.rcode != RCODE.NXDOMAIN:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(gone(), 1.0)
    finally:
        await server.close()
        await factory.stop()
