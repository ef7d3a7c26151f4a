"""Which pods back a Service and at which ports."""

from __future__ import annotations

from typing import Any

from machinery import podendpoints
from machinery.informer import Informer
from machinery.podendpoints import (
    find_port,
    pod_in_endpoints,
    pod_ip,
    services_for_pod,
    should_set_hostname,
    watch_service_pods,
)

Obj = dict[str, Any]


class _Nothing:
    """A lister-watcher the tests never start."""

    async def list(self) -> tuple[list[Obj], str]:
        raise AssertionError("not started in these tests")

    def watch(self, resource_version: str, timeout_seconds: int | None) -> Any:
        raise AssertionError("not started in these tests")


def pod(**status: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"},
                         "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}],
                "initContainers": [{"name": "side", "restartPolicy": "Always",
                                    "ports": [{"name": "proxy", "containerPort": 15001}]}]},
            "status": status}


def service(name: str = "web", selector: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"selector": {"app": "web"} if selector is None else selector}}


def test_exported_members() -> None:
    for name in podendpoints.__all__:
        assert hasattr(podendpoints, name), name


def test_find_port_by_number_name_protocol_and_sidecar() -> None:
    p = pod()
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(p, {"port": 80, "targetPort": "http"}) == 8080
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns"}) is None  # TCP asked, UDP offered
    assert find_port(p, {"port": 1, "targetPort": "proxy"}) == 15001
    assert find_port(p, {"port": 1, "targetPort": "missing"}) is None


def test_pod_ip_by_family() -> None:
    dual = pod(podIP="10.0.0.1", podIPs=[{"ip": "10.0.0.1"}, {"ip": "fd00::1"}])
    assert pod_ip(dual) == "10.0.0.1"
    assert pod_ip(dual, 6) == "fd00::1"
    assert pod_ip(pod(podIP="10.0.0.2")) == "10.0.0.2"
    assert pod_ip(pod()) is None
    assert pod_ip(pod(podIP="bogus")) is None


def test_pod_in_endpoints() -> None:
    running = pod(podIP="10.0.0.1", phase="Running")
    assert pod_in_endpoints(running, include_terminating=False)
    assert not pod_in_endpoints(pod(phase="Running"), include_terminating=True)
    assert not pod_in_endpoints(pod(podIP="10.0.0.1", phase="Succeeded"), include_terminating=True)
    leaving = pod(podIP="10.0.0.1", phase="Running")
    leaving["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert not pod_in_endpoints(leaving, include_terminating=False)
    assert pod_in_endpoints(leaving, include_terminating=True)


def test_hostname_only_for_the_named_subdomain_in_the_same_namespace() -> None:
    p = pod()
    p["spec"].update(hostname="db-0", subdomain="web")
    assert should_set_hostname(p, service())
    assert not should_set_hostname(p, service("other"))
    elsewhere = service()
    elsewhere["metadata"]["namespace"] = "ns2"
    assert not should_set_hostname(p, elsewhere)


def test_services_for_pod_and_handlers() -> None:
    services = Informer(None, "services", lister_watcher=_Nothing())
    pods = Informer(None, "pods", lister_watcher=_Nothing())
    queued: list[str] = []
    watch_service_pods(services, pods, queued.append)
    services.apply({"type": "ADDED", "object": service()})
    services.apply({"type": "ADDED", "object": service("manual", selector={})})
    services.apply({"type": "ADDED", "object": service("db", selector={"app": "db"})})
    assert services_for_pod(services, pod()) == {"ns/web"}
    queued.clear()

    pods.apply({"type": "ADDED", "object": pod()})
    assert queued == ["ns/web"]
    moved = pod()
    moved["metadata"].update(labels={"app": "db"}, resourceVersion="2")
    pods.apply({"type": "MODIFIED", "object": moved})
    assert sorted(queued[1:]) == ["ns/db", "ns/web"]
    pods.apply({"type": "MODIFIED", "object": moved})  # same version: a resync, ignored
    assert len(queued) == 3
    pods.apply({"type": "DELETED", "object": moved})
    assert queued[-1] == "ns/db"
