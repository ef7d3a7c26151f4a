"""Ingress end to end: ``python -m ingress`` routes host requests to pods on real Docker.

Two Deployments (hello 1.0 and 2.0) behind two Services, one Ingress with two
hosts and two paths, no ``ingressClassName`` (the controller's class is the
cluster default).  Requests go from the test to the proxy on 127.0.0.1 and
from the proxy straight to pod IPs on the session's bridge: nothing leaves
the machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.addons import AddonCluster, module_namespace, steady
from tests.e2e.cluster import deployment, running, service
from tests.e2e.conftest import Api, DockerCluster, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
HELLO_REPLY = re.compile(r"Hello from (\S+) \(version ([\d.]+)\)")


@dataclass
class Env:
    api: Api
    cluster: AddonCluster
    ns: str

    def get(self, host: str, path: str = "/") -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.cluster.ingress_port}{path}",
                         headers={"Host": host}, timeout=5)

    def version(self, host: str, path: str = "/") -> str | None:
        response = self.get(host, path)
        found = HELLO_REPLY.search(response.text) if response.status_code == 200 else None
        return found.group(2) if found else None

    def ingress(self, name: str) -> dict[str, Any]:
        found = self.api.get(f"/apis/networking.k8s.io/v1/namespaces/{self.ns}/ingresses/{name}")
        assert found is not None
        return found


def backend(service: str, port: int | str) -> dict[str, Any]:
    return {"service": {"name": service,
                        "port": {"number": port} if isinstance(port, int) else {"name": port}}}


@pytest.fixture(scope="module")
def addon_cluster(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[AddonCluster]:
    with running(AddonCluster(apiserver.url, docker_cluster,
                              Path(tmp_path_factory.mktemp("ingress")))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def env(api: Api, addon_cluster: AddonCluster) -> Iterator[Env]:
    with module_namespace(api, addon_cluster, "ing") as ns:
        state = Env(api, addon_cluster, ns)
        for name, image, port in (("v1", "k8py/hello:1.0", 80), ("v2", "k8py/hello:2.0", 8080)):
            api.create(f"/apis/apps/v1/namespaces/{ns}/deployments",
                       steady(deployment(name, 1, addon_cluster.node_selector, image=image)))
            api.create(f"/api/v1/namespaces/{ns}/services", service(
                name, {"app": name}, [{"name": "web", "port": port, "targetPort": "http"}]))
        api.create(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "site"},
            "spec": {"rules": [
                {"host": "one.example.test", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend("v1", 80)}]}},
                {"host": "two.example.test", "http": {"paths": [
                    {"path": "/new", "pathType": "Prefix", "backend": backend("v2", "web")},
                    {"path": "/", "pathType": "Prefix", "backend": backend("v1", 80)}]}},
            ]}})
        wait_for(lambda: state.version("one.example.test") == "1.0", 90,
                 what="one.example.test served by v1")
        wait_for(lambda: state.version("two.example.test", "/new") == "2.0", 60,
                 what="two.example.test/new served by v2")
        yield state


def test_each_host_and_path_reaches_its_service(env: Env) -> None:
    assert env.version("one.example.test") == "1.0"
    assert env.version("one.example.test", "/new") == "1.0"  # a host of its own rules
    assert env.version("two.example.test", "/new/page") == "2.0"
    assert env.version("TWO.example.test:80", "/new") == "2.0"
    assert env.version("two.example.test", "/newer") == "1.0"  # path elements, not strings
    assert env.version("two.example.test", "/") == "1.0"


def test_unknown_hosts_get_404(env: Env) -> None:
    assert env.get("three.example.test").status_code == 404


def test_status_shows_the_published_address(env: Env) -> None:
    def address() -> object:
        status = env.ingress("site").get("status") or {}
        return (status.get("loadBalancer") or {}).get("ingress")

    assert wait_for(address, 20, what="ingress status") == [{"ip": "127.0.0.1"}]
    classes = env.api.get("/apis/networking.k8s.io/v1/ingressclasses/k8py") or {}
    assert classes["spec"]["controller"] == "k8py.io/ingress-controller"


def test_scaling_to_zero_gives_503_and_back(env: Env) -> None:
    def scale(replicas: int) -> None:
        def patched() -> bool:
            response = env.api.http.patch(
                f"/apis/apps/v1/namespaces/{env.ns}/deployments/v2",
                json={"spec": {"replicas": replicas}},
                headers={"Content-Type": "application/merge-patch+json"})
            assert response.status_code in (200, 409), response.text
            return response.status_code == 200  # 409: raced a status write; try again

        wait_for(patched, 10, what=f"v2 scaled to {replicas}")

    scale(0)
    wait_for(lambda: env.get("two.example.test", "/new").status_code == 503, 60,
             what="503 without endpoints")
    scale(1)
    wait_for(lambda: env.version("two.example.test", "/new") == "2.0", 90,
             what="v2 serving again")
