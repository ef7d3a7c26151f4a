"""EndpointSliceController: labelled, owned slices with endpoint conditions."""

from __future__ import annotations

from typing import Any

from controllers.endpointslice import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    MAX_ENDPOINTS_PER_SLICE,
    SERVICE_NAME_LABEL,
    EndpointSliceController,
    desired_slices,
)
from machinery.meta import deepcopy_json
from tests.controllers.fakeclient import FakeClient, fake_context
from tests.controllers.test_endpoints import NS, mixed_pods, pod, service

Obj = dict[str, Any]


def setup() -> tuple[EndpointSliceController, FakeClient]:
    ctx, client, _ = fake_context()
    return EndpointSliceController(ctx), client


def svc(**spec: Any) -> Obj:
    body = service(**spec)
    body["metadata"]["uid"] = "uid-svc"
    return body


def by_pod(slice_: Obj) -> dict[str, Obj]:
    return {e["targetRef"]["name"]: e for e in slice_["endpoints"]}


def target(name: str) -> Obj:
    return {"kind": "Pod", "namespace": NS, "name": name, "uid": f"uid-{name}"}


async def test_slices_group_endpoints_by_port_set_with_conditions() -> None:
    controller, client = setup()
    client.seed(svc(), *mixed_pods())

    await controller.reconcile(f"{NS}/web")

    creates = [a.body for a in client.writes() if a.verb == "create"]
    assert len(creates) == 2 and all(a.verb == "create" for a in client.writes())
    for body in creates:
        meta = body["metadata"]
        assert meta["name"].startswith("web-")
        assert meta["labels"] == {"tier": "front", SERVICE_NAME_LABEL: "web",
                                  MANAGED_BY_LABEL: CONTROLLER_NAME}
        assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                            "uid": "uid-svc", "controller": True,
                                            "blockOwnerDeletion": True}]
        assert body["addressType"] == "IPv4"
    [both, metrics_only] = sorted(creates, key=lambda b: -len(b["ports"]))
    assert both["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"},
                             {"name": "metrics", "port": 9090, "protocol": "TCP"}]
    assert metrics_only["ports"] == [{"name": "metrics", "port": 9090, "protocol": "TCP"}]
    endpoints = by_pod(both)
    assert set(endpoints) == {"ready", "unready", "leaving"}  # no IP, failed, stranger: out
    assert endpoints["ready"] == {
        "addresses": ["10.0.0.1"], "nodeName": "node-1", "targetRef": target("ready"),
        "conditions": {"ready": True, "serving": True, "terminating": False}}
    assert endpoints["unready"]["conditions"] == {"ready": False, "serving": False,
                                                  "terminating": False}
    assert endpoints["leaving"]["conditions"] == {"ready": False, "serving": True,
                                                  "terminating": True}
    assert by_pod(metrics_only)["no-http"]["addresses"] == ["10.0.0.5"]


async def test_second_reconcile_changes_nothing() -> None:
    controller, client = setup()
    client.seed(svc(), *mixed_pods())
    await controller.reconcile(f"{NS}/web")
    writes = len(client.writes())

    await controller.reconcile(f"{NS}/web")

    assert len(client.writes()) == writes


async def test_pod_readiness_change_updates_the_slice_in_place() -> None:
    controller, client = setup()
    [_, unready] = client.seed(svc(ports=[{"name": "http", "port": 80, "targetPort": 8080,
                                           "protocol": "TCP"}]),
                               pod("p", "10.0.0.2", ready=False))
    await controller.reconcile(f"{NS}/web")
    [create] = client.writes()

    ready = deepcopy_json(unready)
    ready["status"]["conditions"][0]["status"] = "True"
    client.seed(ready)
    await controller.reconcile(f"{NS}/web")

    update = client.writes()[-1]
    assert update.verb == "update" and update.name == create.name
    assert update.body["endpoints"][0]["conditions"] == {"ready": True, "serving": True,
                                                         "terminating": False}


async def test_service_without_endpoints_keeps_a_placeholder_slice() -> None:
    [placeholder] = desired_slices(svc(), []).values()

    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    assert placeholder["metadata"]["labels"][SERVICE_NAME_LABEL] == "web"


async def test_publish_not_ready_and_hostnames() -> None:
    headless = svc(clusterIP="None", publishNotReadyAddresses=True, ports=[])
    member = pod("db-0", "10.0.0.9", ready=False)
    member["spec"].update(hostname="db-0", subdomain="web")

    [slice_] = desired_slices(headless, [member]).values()

    assert slice_["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    [endpoint] = slice_["endpoints"]
    assert endpoint["hostname"] == "db-0"
    assert endpoint["conditions"] == {"ready": True, "serving": False, "terminating": False}


async def test_large_services_are_split_at_one_hundred_endpoints() -> None:
    pods = [pod(f"p{i}", f"10.1.{i // 250}.{i % 250 + 1}") for i in range(150)]

    slices = desired_slices(svc(ports=[{"name": "http", "port": 80, "targetPort": 8080,
                                        "protocol": "TCP"}]), pods)

    assert sorted(len(s["endpoints"]) for s in slices.values()) == [50, MAX_ENDPOINTS_PER_SLICE]


async def test_selector_removal_deletes_managed_slices_only() -> None:
    controller, client = setup()
    [service_obj] = client.seed(svc())
    client.seed(pod("p", "10.0.0.1"))
    await controller.reconcile(f"{NS}/web")
    foreign = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-manual", "namespace": NS,
                            "labels": {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: "me"}},
               "addressType": "IPv4", "endpoints": []}
    client.seed(foreign)

    no_selector = deepcopy_json(service_obj)
    del no_selector["spec"]["selector"]
    client.seed(no_selector)
    await controller.reconcile(f"{NS}/web")

    deletes = [a.name for a in client.writes() if a.verb == "delete"]
    assert len(deletes) == 1 and deletes[0] != "web-manual"
    assert client.stored("endpointslices", "web-manual", NS) is not None


async def test_someone_deleting_our_slice_wakes_the_service() -> None:
    controller, client = setup()
    client.seed(svc(), pod("p", "10.0.0.1"))
    await controller.reconcile(f"{NS}/web")
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    name = client.writes()[0].name

    await client.delete("endpointslices", name, NS)

    assert await controller.queue.get() == f"{NS}/web"
    controller.queue.done(f"{NS}/web")
    await controller.reconcile(f"{NS}/web")
    assert client.stored("endpointslices", name, NS) is not None  # recreated, same name
