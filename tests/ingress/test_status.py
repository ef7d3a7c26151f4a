"""Ingress status and the IngressClass, against the in-memory fake API."""

from __future__ import annotations

import asyncio

import pytest

from ingress.routes import DEFAULT_CLASS_ANNOTATION
from ingress.status import StatusController, ensure_ingress_class, load_balancer_entry
from machinery.client import ApiClient
from machinery.informer import SharedInformerFactory
from machinery.resources import lookup
from tests.ingress.builders import ingress, ingress_class, path, rule
from tests.machinery.client_fakeapi import FakeApiServer

pytestmark = pytest.mark.timeout(30)
INGRESSES, CLASSES = lookup("ingresses"), lookup("ingressclasses")
assert INGRESSES and CLASSES


async def test_ensure_ingress_class_creates_a_default_class_once(fake: FakeApiServer,
                                                                 client: ApiClient) -> None:
    await ensure_ingress_class(client)
    created = fake.table(CLASSES)[(None, "k8py")]
    assert created["spec"]["controller"] == "k8py.io/ingress-controller"
    assert created["metadata"]["annotations"][DEFAULT_CLASS_ANNOTATION] == "true"
    created["metadata"]["annotations"] = {}  # an operator made another class the default
    fake.put(CLASSES, created)
    await ensure_ingress_class(client)
    assert fake.table(CLASSES)[(None, "k8py")]["metadata"]["annotations"] == {}


def test_load_balancer_entries() -> None:
    assert load_balancer_entry("127.0.0.1") == {"ip": "127.0.0.1"}
    assert load_balancer_entry("ingress.example.test") == {"hostname": "ingress.example.test"}


async def test_status_follows_class_membership(fake: FakeApiServer, client: ApiClient) -> None:
    fake.put(CLASSES, ingress_class("k8py", default=False))
    fake.put(INGRESSES, ingress("named", [rule(None, path("/", "a"))], class_name="k8py"))
    fake.put(INGRESSES, ingress("unclassed", [rule(None, path("/", "a"))]))
    fake.put(INGRESSES, ingress("foreign", [rule(None, path("/", "a"))], class_name="nginx"))
    factory = SharedInformerFactory(client)
    controller = StatusController(client, factory.informer("ingresses"),
                                  factory.informer("ingressclasses"), "127.0.0.1")
    await factory.start()
    assert await factory.wait_for_sync(5)
    worker = asyncio.create_task(controller.run())

    def address(name: str) -> object:
        found = fake.table(INGRESSES)[("default", name)]
        return ((found.get("status") or {}).get("loadBalancer") or {}).get("ingress")

    async def settled(*names: str) -> None:
        while not all(address(n) == [{"ip": "127.0.0.1"}] for n in names):
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(settled("named"), 3)
        assert address("unclassed") is None and address("foreign") is None
        fake.put(CLASSES, ingress_class("k8py", default=True))  # now the default class
        await asyncio.wait_for(settled("named", "unclassed"), 3)
        assert address("foreign") is None
        writes = len([r for r in fake.requests if r.method == "PUT"])
        controller.enqueue_all()  # a resync: nothing differs, nothing is written
        await asyncio.sleep(0.1)
        assert len([r for r in fake.requests if r.method == "PUT"]) == writes
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await factory.stop()
