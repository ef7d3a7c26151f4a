"""ServiceLBController: ingress IPs from the loopback pool, never twice, released on change."""

from __future__ import annotations

from typing import Any

from controllers.servicelb import COMPONENT, ServiceLBController
from tests.controllers.fakeclient import FakeClient, drain, fake_context

Obj = dict[str, Any]
NS = "shop"


def lb(name: str, *, created: str = "2024-01-01T00:00:00Z", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "creationTimestamp": created},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                "nodePort": 30080}], **spec}}


def setup(pool: str = "127.0.2.0/30") -> tuple[ServiceLBController, FakeClient, Any]:
    ctx, client, _ = fake_context(load_balancer_ip_range=pool)
    return ServiceLBController(ctx), client, ctx.events.recorder(COMPONENT)


def ingress(client: FakeClient, name: str) -> Any:
    stored = client.stored("services", name, NS) or {}
    return (stored.get("status") or {}).get("loadBalancer")


async def test_assigns_distinct_addresses_through_the_status_subresource() -> None:
    controller, client, recorder = setup()
    client.seed(lb("a"), lb("b"))
    await drain(controller)
    assert ingress(client, "a") == {"ingress": [{"ip": "127.0.2.1", "ipMode": "VIP"}]}
    assert ingress(client, "b") == {"ingress": [{"ip": "127.0.2.2", "ipMode": "VIP"}]}
    assert {a.subresource for a in client.writes()} == {"status"}
    assert ("Normal", "EnsuredLoadBalancer", "Assigned load balancer IP 127.0.2.1", "a") \
        in recorder.events


async def test_idempotent_once_assigned() -> None:
    controller, client, _ = setup()
    client.seed(lb("a"))
    await drain(controller)
    before = len(client.writes())
    await controller.reconcile(f"{NS}/a")
    assert len(client.writes()) == before


async def test_requested_ip_is_honoured_only_inside_the_pool_and_when_free() -> None:
    controller, client, recorder = setup()
    client.seed(lb("a", loadBalancerIP="127.0.2.2"), lb("b", loadBalancerIP="127.0.2.2"),
                lb("c", loadBalancerIP="192.0.2.7"))
    await drain(controller)
    assert ingress(client, "a") == {"ingress": [{"ip": "127.0.2.2", "ipMode": "VIP"}]}
    assert ingress(client, "b") is None and ingress(client, "c") is None
    warnings = {(name, message) for kind, reason, message, name in recorder.events
                if kind == "Warning" and reason == "AllocationFailed"}
    assert warnings == {
        ("b", "Failed to allocate a load balancer IP: requested IP 127.0.2.2 is already "
              "assigned to shop/a"),
        ("c", "Failed to allocate a load balancer IP: requested IP 192.0.2.7 is not in the "
              "pool 127.0.2.0/30")}


async def test_exhausted_pool_waits_and_a_release_serves_the_waiting_service() -> None:
    controller, client, recorder = setup()
    client.seed(lb("a", created="2024-01-01T00:00:01Z"), lb("b", created="2024-01-01T00:00:02Z"),
                lb("c", created="2024-01-01T00:00:03Z"))
    await drain(controller)
    assert [ingress(client, n) is not None for n in "abc"] == [True, True, False]
    assert any(r == "AllocationFailed" and "no addresses left" in m
               for _, r, m, _ in recorder.events)
    await client.delete("services", "a", NS)
    await drain(controller)
    assert ingress(client, "c") == {"ingress": [{"ip": "127.0.2.1", "ipMode": "VIP"}]}


async def test_type_change_releases_and_clears_the_status() -> None:
    controller, client, _ = setup()
    client.seed(lb("a"))
    await drain(controller)
    service = client.stored("services", "a", NS)
    assert service is not None
    service["spec"]["type"] = "ClusterIP"
    await client.update("services", service)
    await drain(controller)
    assert ingress(client, "a") == {}
    assert controller.pool.held == {}


async def test_load_balancer_class_belongs_to_someone_else() -> None:
    controller, client, _ = setup()
    client.seed(lb("a", loadBalancerClass="example.com/other"))
    await drain(controller)
    assert client.writes() == []


async def test_a_restarted_controller_keeps_existing_addresses() -> None:
    controller, client, _ = setup()
    kept = lb("a")
    kept["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.2.2", "ipMode": "VIP"}]}}
    client.seed(lb("new", created="2024-02-01T00:00:00Z"), kept)
    await drain(controller)
    assert ingress(client, "a") == {"ingress": [{"ip": "127.0.2.2", "ipMode": "VIP"}]}
    assert ingress(client, "new") == {"ingress": [{"ip": "127.0.2.1", "ipMode": "VIP"}]}
    assert [a.name for a in client.writes()] == ["new"]
