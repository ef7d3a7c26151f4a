"""``k8py top``: cells, ordering and layout checked against what kubectl 1.32 prints.

The expected texts were captured from the real kubectl against k8py's own
metrics API, trailing padding included (kubectl tab-terminates every cell).
"""

from __future__ import annotations

import argparse
import io
from typing import Any

import httpx
import pytest

from cli import top
from cli.context import Context
from cli.errors import CliError
from machinery.client import ApiClient

Obj = dict[str, Any]


def pod(name: str, *containers: tuple[str, str, str], namespace: str = "default") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace},
            "containers": [{"name": c, "usage": {"cpu": cpu, "memory": mem}}
                           for c, cpu, mem in containers]}


def node(name: str, cpu: str, memory: str) -> Obj:
    return {"metadata": {"name": name}, "usage": {"cpu": cpu, "memory": memory}}


BUSY = [pod("busy-2", ("web", "12345n", "4Mi"), ("spin", "9m", "900Ki")),
        pod("busy-1", ("web", "0", "4500Ki"), ("spin", "9000001n", "700Ki"))]


@pytest.mark.parametrize(("quantity", "cpu", "memory"), [
    ("9000001n", "10m", "0Mi"), ("0", "0m", "0Mi"), ("1", "1000m", "0Mi"),
    ("5Mi", "5242880000m", "5Mi"), ("6291455", "6291455000m", "5Mi"), (None, "0m", "0Mi")])
def test_cells_round_like_quantity_milli_value_and_value(quantity: str | None, cpu: str,
                                                         memory: str) -> None:
    assert top.cpu_cell(quantity) == cpu
    assert top.memory_cell(quantity) == memory


def test_percentages_truncate_and_vanish_without_room() -> None:
    assert top.percent_cell("10m", "2") == "0%"
    assert top.percent_cell("1500m", "2") == "75%"
    assert top.percent_cell("58Mi", "128Mi") == "45%"
    assert top.percent_cell("1", "0") is None and top.percent_cell("1", None) is None


def test_pods_print_byte_for_byte_like_kubectl() -> None:
    assert top.render(top.pod_lines(BUSY)) == (
        "NAME     CPU(cores)   MEMORY(bytes)   \n"
        "busy-1   10m          5Mi             \n"
        "busy-2   10m          4Mi             \n")


def test_containers_with_namespaces_sorted_by_name() -> None:
    assert top.render(top.pod_lines(BUSY, containers=True, with_namespace=True)) == (
        "NAMESPACE   POD      NAME   CPU(cores)   MEMORY(bytes)   \n"
        "default     busy-1   spin   10m          0Mi             \n"
        "default     busy-1   web    0m           4Mi             \n"
        "default     busy-2   spin   9m           0Mi             \n"
        "default     busy-2   web    1m           4Mi             \n")


def test_sort_by_puts_the_largest_first_and_sum_adds_a_total() -> None:
    items = [pod("small", ("app", "1m", "3Mi")), pod("big", ("app", "2", "1Gi")),
             pod("mid", ("app", "5m", "1Mi"), ("side", "1m", "1Mi"))]
    by_cpu = top.pod_lines(items, sort_by="cpu", headers=False)
    assert [r[0] for r in by_cpu] == ["big", "mid", "small"]
    by_memory = top.pod_lines(items, sort_by="memory", headers=False)
    assert [r[0] for r in by_memory] == ["big", "small", "mid"]
    per_container = top.pod_lines(BUSY[:1], containers=True, sort_by="cpu", headers=False)
    assert [r[1] for r in per_container] == ["spin", "web"]
    summed = top.pod_lines(BUSY, with_sum=True)
    assert summed[-2:] == [["", "________", "________"], ["", "19m", "9Mi"]]


def test_nodes_show_shares_of_room_and_unknown_for_silent_nodes() -> None:
    items = [node("n2", "250m", "1Gi"), node("n1", "10m", "58Mi")]
    room = {"n1": {"cpu": "2", "memory": "128Mi"}, "n2": {"cpu": "2", "memory": "4Gi"},
            "n3": {"cpu": "2", "memory": "4Gi"}}
    assert top.render(top.node_lines(items, room)) == (
        "NAME   CPU(cores)   CPU(%)      MEMORY(bytes)   MEMORY(%)   \n"
        "n1     10m          0%          58Mi            45%         \n"
        "n2     250m         12%         1024Mi          25%         \n"
        "n3     <unknown>    <unknown>   <unknown>       <unknown>   \n")
    assert [r[0] for r in top.node_lines(items, {}, sort_by="cpu", headers=False)] == ["n2", "n1"]
    assert top.node_lines(items[:1], {}, headers=False) == [["n2", "250m", "1024Mi"]]


def test_render_nothing_is_empty() -> None:
    assert top.render([]) == ""


# -- verbs over a scripted server ---------------------------------------------------------------


class Server:
    def __init__(self, pods: list[Obj], nodes: list[Obj], *, metrics: bool = True) -> None:
        self.pods, self.nodes, self.metrics = pods, nodes, metrics
        self.paths: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.paths.append(f"{path}?{request.url.query.decode()}" if request.url.query else path)
        if path.startswith("/apis/metrics.k8s.io/") and not self.metrics:
            return httpx.Response(404, json={"kind": "Status", "code": 404, "reason": "NotFound",
                                             "message": "the server could not find the requested resource"})
        if path == "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods":
            return httpx.Response(200, json={"kind": "PodMetricsList", "items": self.pods})
        if path == "/apis/metrics.k8s.io/v1beta1/nodes":
            return httpx.Response(200, json={"kind": "NodeMetricsList", "items": self.nodes})
        if path == "/api/v1/namespaces/default/pods":
            return httpx.Response(200, json={"kind": "PodList", "metadata": {}, "items": [
                {"metadata": {"name": "new"}}]})
        if path == "/api/v1/nodes":
            return httpx.Response(200, json={"kind": "NodeList", "metadata": {}, "items": [
                {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "2", "memory": "1Gi"},
                                                        "capacity": {"cpu": "4", "memory": "2Gi"}}}]})
        return httpx.Response(404, json={"kind": "Status", "code": 404, "reason": "NotFound",
                                         "message": f"{path} not found"})


def run(server: Server, argv: list[str]) -> tuple[int, str, str]:
    import asyncio

    from cli.main import build_parser, invoke

    args = build_parser().parse_args(argv)
    client = ApiClient("http://api", namespace="default")
    client._http = httpx.AsyncClient(base_url="http://api",
                                     transport=httpx.MockTransport(server.handle))
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(args, stdout=out, stderr=err, client=client)
    code = asyncio.run(invoke(ctx, args.handler))
    return code, out.getvalue(), err.getvalue()


def test_top_pods_reads_the_metrics_group_with_the_selector() -> None:
    server = Server(BUSY, [])
    code, out, _ = run(server, ["top", "pods", "-l", "app=top", "--no-headers"])
    assert code == 0 and out.splitlines()[0].split() == ["busy-1", "10m", "5Mi"]
    assert server.paths == ["/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dtop"]


def test_top_pods_without_metrics_yet_and_without_the_api() -> None:
    code, _, err = run(Server([], []), ["top", "po"])
    assert code == 1 and err.strip() == "error: metrics not available yet"
    code, _, err = run(Server([], [], metrics=False), ["top", "pod"])
    assert code == 1 and err.strip() == "error: Metrics API not available"


def test_top_nodes_uses_allocatable_or_capacity() -> None:
    server = Server([], [node("n1", "500m", "256Mi")])
    code, out, _ = run(server, ["top", "nodes"])
    assert code == 0 and out.splitlines()[1].split() == ["n1", "500m", "25%", "256Mi", "25%"]
    code, out, _ = run(server, ["top", "no", "--show-capacity", "--no-headers"])
    assert out.split() == ["n1", "500m", "12%", "256Mi", "12%"]


def test_top_needs_a_kind() -> None:
    from cli.main import build_parser

    with pytest.raises(CliError):
        build_parser().parse_args(["top", "deployments"])
    assert isinstance(build_parser().parse_args(["top", "pod", "web", "--containers"]),
                      argparse.Namespace)
