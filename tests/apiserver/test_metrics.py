"""metrics.k8s.io served by the API server: object building, quantities, scraping and errors.

The handler runs under Starlette's TestClient over seeded watch caches, and
the kubelets answer through ``httpx.MockTransport``: one node answers, one is
not Ready, one times out, so which nodes and pods appear is checked exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from apiserver import metrics
from apiserver.registry import Registry
from apiserver.wire import status_response
from machinery import errors
from machinery.resources import by_plural

Obj = dict[str, Any]
NOW = "2025-01-01T00:00:10Z"


def node(name: str, port: int, *, ready: bool = True, labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def pod(name: str, node_name: str, *, uid: str | None = None, app: str = "web") -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}",
                         "labels": {"app": app}},
            "spec": {"nodeName": node_name}}


def stats(nanocores: int, working_set: int, at: str = "2025-01-01T00:00:05Z") -> Obj:
    return {"cpu": {"time": at, "usageNanoCores": nanocores},
            "memory": {"time": at, "workingSetBytes": working_set}}


def entry(name: str, *containers: tuple[str, int, int], uid: str | None = None) -> Obj:
    return {"podRef": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}"},
            "containers": [{"name": c, **stats(cpu, mem)} for c, cpu, mem in containers]}


SUMMARY: Obj = {"node": stats(1_500_000_000, 512 << 20),
           "pods": [entry("web", ("app", 123_000_000, 12 << 20), ("side", 1_234_567, 1_263_617)),
                    entry("db", ("db", 2_000_000, 64 << 20)),
                    entry("stale", ("x", 1, 1), uid="an-older-uid")]}


class Cache:
    def __init__(self, objects: dict[str, Obj]) -> None:
        self.objects = objects

    async def wait_ready(self) -> None:
        return None

    def list(self, predicate: Any) -> tuple[list[Obj], int]:
        return [o for _, o in sorted(self.objects.items()) if predicate(o)], 1

    def get(self, key: str) -> Obj | None:
        return self.objects.get(key)


def kubelets(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/stats/summary"
    if request.url.port == 10250:
        return httpx.Response(200, json=SUMMARY)
    raise httpx.ReadTimeout("kubelet did not answer", request=request)


@pytest.fixture
def client() -> Iterator[TestClient]:
    nodes, pods = by_plural("", "v1", "nodes"), by_plural("", "v1", "pods")
    caches = {
        nodes: Cache({"n1": node("n1", 10250), "n2": node("n2", 10251),
                      "n3": node("n3", 10250, ready=False)}),
        pods: Cache({f"default/{p['metadata']['name']}": p for p in (
            pod("web", "n1"), pod("db", "n1", app="db"), pod("stale", "n1"),
            pod("lost", "n2"), pod("idle", "n1"))}),
    }
    http = httpx.AsyncClient(transport=httpx.MockTransport(kubelets))
    server = SimpleNamespace(cache=caches.__getitem__, registry=Registry,
                             proxy=SimpleNamespace(http_client=http))
    api = metrics.MetricsApi(server)  # type: ignore[arg-type]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ApiError)
        return status_response(exc)

    app = Starlette(routes=[Route("/apis/metrics.k8s.io/v1beta1/{rest:path}", api.handle,
                                  methods=["GET", "POST", "DELETE"])],
                    exception_handlers={errors.ApiError: api_error})
    with TestClient(app, base_url="http://api") as test_client:
        yield test_client


# -- building -------------------------------------------------------------------------------


@pytest.mark.parametrize(("nanocores", "text"), [
    (123_000_000, "123m"), (1_234_567, "1234567n"), (2_000_000_000, "2"), (0, "0"), (-5, "0")])
def test_cpu_spelled_as_metrics_server_does(nanocores: int, text: str) -> None:
    assert metrics.format_cpu(nanocores) == text


@pytest.mark.parametrize(("size", "text"), [
    (12 << 20, "12Mi"), (1234 << 10, "1234Ki"), (1_263_617, "1263617"), (0, "0"), (2 << 30, "2Gi")])
def test_memory_spelled_in_binary_si(size: int, text: str) -> None:
    assert metrics.format_memory(size) == text


def test_node_and_pod_metrics_objects() -> None:
    built = metrics.node_metrics(node("n1", 10250), SUMMARY, NOW)
    assert built == {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                     "metadata": {"name": "n1", "creationTimestamp": NOW,
                                  "labels": {"kubernetes.io/hostname": "n1"}},
                     "timestamp": "2025-01-01T00:00:05Z", "window": "10s",
                     "usage": {"cpu": "1500m", "memory": "512Mi"}}
    web = metrics.pod_metrics(pod("web", "n1"), SUMMARY["pods"][0], NOW)
    assert web["metadata"] == {"name": "web", "namespace": "default", "creationTimestamp": NOW,
                               "labels": {"app": "web"}}
    assert (web["kind"], web["timestamp"], web["window"]) == ("PodMetrics", "2025-01-01T00:00:05Z", "10s")
    assert web["containers"] == [{"name": "app", "usage": {"cpu": "123m", "memory": "12Mi"}},
                                 {"name": "side", "usage": {"cpu": "1234567n", "memory": "1263617"}}]
    listed = metrics.metrics_list(metrics.POD_METRICS, [web])
    assert (listed["kind"], listed["apiVersion"]) == ("PodMetricsList", "metrics.k8s.io/v1beta1")
    assert "kind" not in listed["items"][0] and listed["items"][0]["containers"] == web["containers"]


def test_kubelet_address_and_readiness() -> None:
    assert metrics.kubelet_url(node("n1", 10250)) == "http://127.0.0.1:10250"
    assert metrics.kubelet_url({"status": {}}) is None
    six = node("n6", 10250)
    six["status"]["addresses"] = [{"type": "Hostname", "address": "n6"},
                                  {"type": "InternalIP", "address": "fd00::6"}]
    assert metrics.kubelet_url(six) == "http://[fd00::6]:10250"
    assert metrics.node_ready(node("n1", 1)) and not metrics.node_ready(node("n3", 1, ready=False))


# -- serving --------------------------------------------------------------------------------


def test_node_list_leaves_out_unready_and_silent_nodes(client: TestClient) -> None:
    body = client.get("/apis/metrics.k8s.io/v1beta1/nodes").json()
    assert body["kind"] == "NodeMetricsList"
    assert [(i["metadata"]["name"], i["usage"]) for i in body["items"]] == [
        ("n1", {"cpu": "1500m", "memory": "512Mi"})]
    selected = client.get("/apis/metrics.k8s.io/v1beta1/nodes",
                          params={"labelSelector": "kubernetes.io/hostname=n2"}).json()
    assert selected["items"] == []


def test_node_get_and_its_not_found_errors(client: TestClient) -> None:
    one = client.get("/apis/metrics.k8s.io/v1beta1/nodes/n1").json()
    assert (one["kind"], one["metadata"]["name"]) == ("NodeMetrics", "n1")
    missing = client.get("/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert missing.status_code == 404 and missing.json()["message"] == 'nodes "nope" not found'
    silent = client.get("/apis/metrics.k8s.io/v1beta1/nodes/n2")
    assert silent.status_code == 404
    assert silent.json()["message"] == 'nodemetrics.metrics.k8s.io "n2" not found'
    assert silent.json()["details"] == {"name": "n2", "group": "metrics.k8s.io", "kind": "nodemetrics"}


def test_pod_list_joins_summaries_with_live_pods(client: TestClient) -> None:
    body = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").json()
    assert body["kind"] == "PodMetricsList"
    # stale: another uid (re-created pod); lost: node silent; idle: not in the summary.
    assert [i["metadata"]["name"] for i in body["items"]] == ["db", "web"]
    everywhere = client.get("/apis/metrics.k8s.io/v1beta1/pods").json()
    assert [i["metadata"]["name"] for i in everywhere["items"]] == ["db", "web"]
    other = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/other/pods").json()
    assert other["items"] == []
    by_label = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                          params={"labelSelector": "app=web"}).json()
    assert [i["metadata"]["name"] for i in by_label["items"]] == ["web"]
    by_field = client.get("/apis/metrics.k8s.io/v1beta1/pods",
                          params={"fieldSelector": "metadata.name=db"}).json()
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["db"]


def test_pod_get_and_errors(client: TestClient) -> None:
    web = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web").json()
    assert web["kind"] == "PodMetrics" and len(web["containers"]) == 2
    missing = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert missing.status_code == 404 and missing.json()["message"] == 'pods "nope" not found'
    idle = client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/idle")
    assert idle.status_code == 404
    assert idle.json()["message"] == 'podmetrics.metrics.k8s.io "idle" not found'
    bad = client.get("/apis/metrics.k8s.io/v1beta1/pods", params={"labelSelector": "a in (b"})
    assert bad.status_code == 400


@pytest.mark.parametrize("path", ["pods/web", "namespaces/default/nodes", "services", "nodes/a/b",
                                  "namespaces/default/pods/web/log", ""])
def test_paths_outside_the_group_are_not_found(client: TestClient, path: str) -> None:
    response = client.get(f"/apis/metrics.k8s.io/v1beta1/{path}")
    assert response.status_code == 404 and response.json()["reason"] == "NotFound"


def test_only_get_and_list_are_served(client: TestClient) -> None:
    assert client.post("/apis/metrics.k8s.io/v1beta1/nodes").status_code == 405
    assert client.delete("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web").status_code == 405
    watch = client.get("/apis/metrics.k8s.io/v1beta1/pods", params={"watch": "true"})
    assert watch.status_code == 405 and watch.json()["reason"] == "MethodNotAllowed"


async def test_a_hanging_kubelet_is_cut_off_by_the_scrape_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    monkeypatch.setattr(metrics, "SCRAPE_TIMEOUT", 0.05)
    http = httpx.AsyncClient(transport=httpx.MockTransport(hang))
    server = SimpleNamespace(proxy=SimpleNamespace(http_client=http))
    api = metrics.MetricsApi(server)  # type: ignore[arg-type]
    assert await api.scrape([node("n1", 10250)]) == {}


def test_tables_for_kubectl_get_sum_a_pods_containers(client: TestClient) -> None:
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    pods = client.get("/apis/metrics.k8s.io/v1beta1/pods", headers=accept)
    assert pods.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    table = pods.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    # web: 123m + 1234567n of CPU, 12Mi + 1263617 bytes of memory.
    assert [r["cells"] for r in table["rows"]] == [["db", "2m", "64Mi", "10s"],
                                                   ["web", "124234567n", "13846529", "10s"]]
    assert table["rows"][1]["object"]["metadata"]["namespace"] == "default"
    one = client.get("/apis/metrics.k8s.io/v1beta1/nodes/n1", headers=accept).json()
    assert [r["cells"] for r in one["rows"]] == [["n1", "1500m", "512Mi", "10s"]]
