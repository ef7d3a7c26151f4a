"""``k8py expose`` against the in-memory fake API server: the Service it builds and what it prints."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from machinery.resources import lookup
from tests.machinery.client_fakeapi import FakeApiServer


def _deployment(name: str, selector: dict[str, Any], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": selector,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x",
                                                           "ports": ports}]}}}}


@pytest.fixture
def server() -> FakeApiServer:
    """Overrides the conftest's empty server, so ``k8py`` runs against these objects."""
    server = FakeApiServer()
    deployments, pods, services = lookup("deployments"), lookup("pods"), lookup("services")
    assert deployments is not None and pods is not None and services is not None
    server.put(deployments, _deployment("web", {"matchLabels": {"app": "web"}},
                                        [{"containerPort": 8080, "protocol": "TCP"}]))
    server.put(deployments, _deployment(
        "multi", {"matchLabels": {"app": "multi"}},
        [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 9090}]))
    server.put(deployments, _deployment(
        "expr", {"matchLabels": {"app": "expr"},
                 "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
        [{"containerPort": 80}]))
    server.put(pods, {"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": "bare", "namespace": "default"},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}})
    server.put(services, {"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": "db", "namespace": "default"},
                          "spec": {"selector": {"app": "db"},
                                   "ports": [{"port": 5432, "protocol": "TCP"}]}})
    return server


def posted(server: FakeApiServer) -> list[tuple[str, dict[str, Any]]]:
    return [(str(r.url), orjson.loads(r.content)) for r in server.requests if r.method == "POST"]


async def test_expose_deployment_uses_its_selector_and_port(k8py: Any, server: FakeApiServer) -> None:
    result = await k8py("expose", "deploy/web")
    assert (result.code, result.out, result.err) == (0, "service/web exposed\n", "")
    url, body = posted(server)[0]
    assert url.startswith("http://127.0.0.1:6443/api/v1/namespaces/default/services?")
    assert "fieldManager=kubectl-expose" in url
    assert body == {"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "web", "labels": {"app": "web"}},
                    "spec": {"ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}],
                             "selector": {"app": "web"}}}


async def test_flags_override_introspection(k8py: Any, server: FakeApiServer) -> None:
    result = await k8py("expose", "deployment", "web", "--port=80", "--target-port=http",
                        "--name=front", "--type=NodePort", "--protocol=UDP",
                        "--selector=app=web,tier=a", "--labels=team=x", "--cluster-ip=None")
    assert result.out == "service/front exposed\n"
    body = posted(server)[0][1]
    assert body["metadata"] == {"name": "front", "labels": {"team": "x"}}
    assert body["spec"] == {"ports": [{"port": 80, "protocol": "UDP", "targetPort": "http"}],
                            "selector": {"app": "web", "tier": "a"}, "type": "NodePort",
                            "clusterIP": "None"}


async def test_every_port_is_reused_with_its_protocol(k8py: Any, server: FakeApiServer) -> None:
    assert (await k8py("expose", "deploy/multi")).code == 0
    assert posted(server)[0][1]["spec"]["ports"] == [
        {"name": "port-1", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "port-2", "port": 9090, "protocol": "TCP", "targetPort": 9090}]


async def test_service_exposes_with_its_selector_and_port(k8py: Any, server: FakeApiServer) -> None:
    assert (await k8py("expose", "svc", "db", "--name=db2")).out == "service/db2 exposed\n"
    body = posted(server)[0][1]
    assert body["spec"]["selector"] == {"app": "db"}
    assert body["spec"]["ports"] == [{"port": 5432, "protocol": "TCP", "targetPort": 5432}]


async def test_dry_run_prints_without_creating(k8py: Any, server: FakeApiServer) -> None:
    result = await k8py("expose", "deploy/web", "--dry-run=client", "-o", "yaml")
    assert result.code == 0 and posted(server) == []
    assert "kind: Service" in result.out and "creationTimestamp: null" in result.out
    assert (await k8py("expose", "deploy/web", "--dry-run=client")).out == \
        "service/web exposed (dry run)\n"
    server_dry = await k8py("expose", "deploy/web", "--dry-run=server")
    assert server_dry.out == "service/web exposed (server dry run)\n"
    assert "dryRun=All" in posted(server)[0][0]


@pytest.mark.parametrize(("argv", "message"), [
    (("deploy/expr",),
     "error: couldn't retrieve selectors via --selector flag or introspection: couldn't convert "
     'expressions - "[{Key:tier Operator:In Values:[a]}]" to map-based selector format'),
    (("pod/bare", "--port=80"),
     "error: couldn't retrieve selectors via --selector flag or introspection: "
     "the pod has no labels and cannot be exposed"),
    (("pod/bare", "--selector=app=x"), "error: couldn't find port via --port flag or introspection"),
    (("configmap/settings", "--port=80"), "error: cannot expose a ConfigMap"),
    (("deploy/none", "--port=80"),
     'Error from server (NotFound): deployments.apps "none" not found'),
])
async def test_errors_are_one_line(k8py: Any, server: FakeApiServer, argv: tuple[str, ...],
                                   message: str) -> None:
    result = await k8py("expose", *argv)
    assert (result.code, result.out, result.err) == (1, "", message + "\n")
    assert posted(server) == []


async def test_an_existing_service_is_reported(k8py: Any) -> None:
    result = await k8py("expose", "deploy/web", "--name=db")
    assert (result.code, result.err) == (
        1, 'Error from server (AlreadyExists): services "db" already exists\n')
