"""EndpointsController: subsets from selected pods, packed and kept current."""

from __future__ import annotations

from typing import Any

from controllers.endpoints import HEADLESS_LABEL, EndpointsController, endpoint_subsets
from machinery.meta import deepcopy_json
from tests.controllers.fakeclient import FakeClient, fake_context

Obj = dict[str, Any]
NS = "shop"


def service(name: str = "web", *, selector: dict[str, str] | None = None,
            ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                           {"name": "metrics", "port": 9090, "targetPort": 9090,
                            "protocol": "TCP"}] if ports is None else ports, **spec}
    if selector is not False:  # type: ignore[comparison-overlap]
        body["selector"] = {"app": "web"} if selector is None else selector
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": {"tier": "front"}},
            "spec": body}


def pod(name: str, ip: str | None, *, ready: bool = True, named_port: bool = True,
        app: str = "web", phase: str = "Running", **meta: Any) -> Obj:
    ports = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}] if named_port else []
    status: Obj = {"phase": phase,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                         "labels": {"app": app}, **meta},
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "c", "image": "nginx", "ports": ports}]},
            "status": status}


def address(name: str, ip: str, **extra: Any) -> Obj:
    return {"ip": ip, **extra, "nodeName": "node-1",
            "targetRef": {"kind": "Pod", "namespace": NS, "name": name, "uid": f"uid-{name}"}}


def setup() -> tuple[EndpointsController, FakeClient]:
    ctx, client, _ = fake_context()
    return EndpointsController(ctx), client


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}
METRICS = {"name": "metrics", "port": 9090, "protocol": "TCP"}


def mixed_pods() -> list[Obj]:
    return [
        pod("ready", "10.0.0.1"),
        pod("unready", "10.0.0.2", ready=False),
        pod("no-ip", None),
        pod("leaving", "10.0.0.4", deletionTimestamp="2024-01-01T00:00:00Z"),
        pod("no-http", "10.0.0.5", named_port=False),
        pod("failed", "10.0.0.6", phase="Failed"),
        pod("stranger", "10.0.0.7", app="other"),
    ]


async def test_subsets_split_ready_from_not_ready_and_pack_ports_by_address_set() -> None:
    controller, client = setup()
    client.seed(service(), *mixed_pods())

    await controller.reconcile(f"{NS}/web")

    [create] = client.writes()
    assert (create.verb, create.resource, create.name) == ("create", "endpoints", "web")
    assert create.body["metadata"]["labels"] == {"tier": "front"}
    assert create.body["subsets"] == [
        {"addresses": [address("ready", "10.0.0.1")],
         "notReadyAddresses": [address("unready", "10.0.0.2")], "ports": [HTTP]},
        {"addresses": [address("ready", "10.0.0.1"), address("no-http", "10.0.0.5")],
         "notReadyAddresses": [address("unready", "10.0.0.2")], "ports": [METRICS]},
    ]


async def test_second_reconcile_changes_nothing() -> None:
    controller, client = setup()
    client.seed(service(), *mixed_pods())
    await controller.reconcile(f"{NS}/web")

    await controller.reconcile(f"{NS}/web")

    assert len(client.writes()) == 1


async def test_pod_turning_ready_updates_the_endpoints() -> None:
    controller, client = setup()
    [_, unready] = client.seed(service(), pod("p", "10.0.0.2", ready=False))
    await controller.reconcile(f"{NS}/web")

    now_ready = deepcopy_json(unready)
    now_ready["status"]["conditions"][0]["status"] = "True"
    client.seed(now_ready)
    await controller.reconcile(f"{NS}/web")

    update = client.writes()[-1]
    assert update.verb == "update" and update.body["metadata"]["resourceVersion"]
    assert update.body["subsets"][0]["addresses"] == [address("p", "10.0.0.2")]
    assert "notReadyAddresses" not in update.body["subsets"][0]


async def test_publish_not_ready_addresses_lists_every_pod_as_ready() -> None:
    svc = service(publishNotReadyAddresses=True,
                  ports=[{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    subsets = endpoint_subsets(svc, mixed_pods()[:4])

    assert subsets == [{"addresses": [address("ready", "10.0.0.1"),
                                      address("unready", "10.0.0.2"),
                                      address("leaving", "10.0.0.4")],
                        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


async def test_hostname_is_published_for_the_subdomain_service_only() -> None:
    named = pod("db-0", "10.0.0.9")
    named["spec"].update(hostname="db-0", subdomain="web")
    other = deepcopy_json(named)
    other["spec"]["subdomain"] = "elsewhere"
    other["metadata"].update(name="db-1", uid="uid-db-1")
    other["status"].update(podIP="10.0.0.10", podIPs=[{"ip": "10.0.0.10"}])
    headless = service(clusterIP="None", ports=[])

    [subset] = endpoint_subsets(headless, [named, other])

    # sorted by IP as strings, as upstream sorts them
    assert subset == {"addresses": [address("db-1", "10.0.0.10"),
                                    address("db-0", "10.0.0.9", hostname="db-0")]}


async def test_headless_service_is_labelled_and_non_headless_without_ports_is_empty() -> None:
    controller, client = setup()
    client.seed(service(clusterIP="None", ports=[]), pod("p", "10.0.0.1"))

    await controller.reconcile(f"{NS}/web")

    [create] = client.writes()
    assert create.body["metadata"]["labels"] == {"tier": "front", HEADLESS_LABEL: ""}
    assert endpoint_subsets(service(ports=[]), [pod("p", "10.0.0.1")]) == []


async def test_services_without_selector_are_left_alone() -> None:
    controller, client = setup()
    manual = service(selector=False)  # type: ignore[arg-type]
    client.seed(manual, {"apiVersion": "v1", "kind": "Endpoints",
                         "metadata": {"name": "web", "namespace": NS},
                         "subsets": [{"addresses": [{"ip": "192.0.2.1"}]}]})

    await controller.reconcile(f"{NS}/web")

    assert client.writes() == []


async def test_deleted_service_takes_its_endpoints_along() -> None:
    controller, client = setup()
    client.seed(service(), pod("p", "10.0.0.1"))
    await controller.reconcile(f"{NS}/web")
    await client.delete("services", "web", NS)

    await controller.reconcile(f"{NS}/web")
    await controller.reconcile(f"{NS}/web")

    assert [(a.verb, a.resource) for a in client.writes()][-2:] == [
        ("delete", "services"), ("delete", "endpoints")]
    assert client.stored("endpoints", "web", NS) is None


async def test_relabelled_pod_wakes_the_service_it_left() -> None:
    controller, client = setup()
    [_, member] = client.seed(service(), pod("p", "10.0.0.1"))
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())

    moved = deepcopy_json(member)
    moved["metadata"]["labels"] = {"app": "other"}
    del moved["metadata"]["resourceVersion"]
    client.seed(moved)

    assert len(controller.queue) == 1
    assert await controller.queue.get() == f"{NS}/web"
