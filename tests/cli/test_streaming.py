"""The streaming verbs' client-side decisions: which pod, which container, which ports, which query.

Pods and Services live in the in-memory fake API server; the streams
themselves are exercised end to end in ``tests/e2e/test_streaming.py``.
"""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest

from cli.context import Context
from cli.errors import CliError
from cli.exec import exec_query
from cli.logs import log_params
from cli.main import build_parser
from cli.portforward import PortSpec, listen_addresses, parse_port_spec, resolve_ports
from cli.streaming import (
    Selection, container_names, default_container, parse_resource_arg, pick_pod, select_pod,
)
from machinery.client import ApiClient
from machinery.resources import Resource, by_plural
from tests.machinery.client_fakeapi import FakeApiServer

Obj = dict[str, Any]


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool = True,
        ready_at: str = "2025-01-01T00:00:00Z", restarts: int = 0,
        created: str = "2025-01-01T00:00:00Z", labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created,
                         "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node, "containers": [
                {"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": str(ready),
                                       "lastTransitionTime": ready_at}],
                       "containerStatuses": [{"name": "app", "restartCount": restarts}]}}


def names(pods: list[Obj], **kwargs: Any) -> str | None:
    chosen = pick_pod(pods, **kwargs)
    return None if chosen is None else str(chosen["metadata"]["name"])


def test_pick_pod_prefers_assigned_running_ready_then_longest_ready() -> None:
    assert names([pod("pending", phase="Pending"), pod("running")]) == "running"
    assert names([pod("unassigned", node=""), pod("assigned", phase="Pending")]) == "assigned"
    assert names([pod("not-ready", ready=False), pod("ready", created="2026-01-01T00:00:00Z")]) == "ready"
    assert names([pod("recent", ready_at="2025-06-01T00:00:00Z"),
                  pod("long", ready_at="2025-01-01T00:00:00Z")]) == "long"
    assert names([pod("young", created="2025-02-01T00:00:00Z"), pod("old")]) == "old"
    assert names([]) is None


def test_restarts_decide_differently_for_logs_and_exec() -> None:
    pods = [pod("calm"), pod("crashy", restarts=3)]
    assert names(pods) == "calm"  # ActivePods, reversed: fewest restarts
    assert names(pods, for_logs=True) == "crashy"  # ByLogging: the one worth reading
    gone = pod("calm")
    gone["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert names([gone, pod("crashy", restarts=3)]) == "crashy"


def test_default_container_follows_the_annotation_and_says_so() -> None:
    multi: Obj = {"metadata": {"name": "p"},
             "spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}}
    heard: list[str] = []
    assert default_container(multi, heard.append) == "a"
    assert heard == ['Defaulted container "a" out of: a, b, i (init)']
    multi["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": "b"}
    assert default_container(multi, heard.append) == "b" and len(heard) == 1
    assert container_names(multi) == ["i", "a", "b"]
    with pytest.raises(CliError, match="has no containers"):
        default_container({"metadata": {"name": "p"}, "spec": {}})


def test_resource_arguments() -> None:
    assert parse_resource_arg("web") == ("pods", "web")
    assert parse_resource_arg("deploy/web") == ("deployments", "web")
    assert parse_resource_arg("svc/web") == ("services", "web")
    with pytest.raises(CliError, match="single resource and name"):
        parse_resource_arg("deploy/")


def resource(group: str, plural: str) -> Resource:
    found = by_plural(group, "v1", plural)
    assert found is not None
    return found


@pytest.fixture
def ctx() -> Context:
    server = FakeApiServer()
    server.put(resource("", "pods"), pod("web-old", labels={"app": "web"}))
    server.put(resource("", "pods"), pod("web-new", created="2025-03-01T00:00:00Z"))
    server.put(resource("", "pods"), pod("other", labels={"app": "other"}))
    server.put(resource("", "services"), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "web", "port": 80, "targetPort": "http"},
            {"name": "admin", "port": 9000, "targetPort": 9090}, {"port": 7000}]}})
    server.put(resource("apps", "deployments"), {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    client = ApiClient("http://127.0.0.1:6443", transport=server.transport, namespace="default")
    return Context(argparse.Namespace(), stdout=io.StringIO(), stderr=io.StringIO(), client=client)


async def test_select_pod_by_name_workload_and_service(ctx: Context) -> None:
    heard: list[str] = []
    try:
        assert (await select_pod(ctx, "other")).name == "other"
        chosen = await select_pod(ctx, "deploy/web", announce=heard.append)
        assert (chosen.name, chosen.kind) == ("web-old", "deployments")
        assert heard == ["Found 2 pods, using pod/web-old"]
        service = await select_pod(ctx, "svc/web")
        assert service.named["kind"] == "Service" and service.name == "web-old"
    finally:
        await ctx.aclose()


def test_port_specs_and_service_port_mapping() -> None:
    assert parse_port_spec("8080") == PortSpec(None, "8080")
    assert parse_port_spec("5000:80") == PortSpec(5000, "80")
    assert parse_port_spec(":80") == PortSpec(0, "80")
    with pytest.raises(CliError, match="not a number"):
        parse_port_spec("x:80")
    web = pod("web")
    service = {"metadata": {"name": "web"}, "spec": {"ports": [
        {"name": "web", "port": 80, "targetPort": "http"},
        {"name": "admin", "port": 9000, "targetPort": 9090}, {"port": 7000}]}}
    through = Selection(web, service, "services")
    specs = [PortSpec(None, "80"), PortSpec(0, "admin"), PortSpec(1234, "7000")]
    assert resolve_ports(through, specs) == [(80, 8080), (0, 9090), (1234, 7000)]
    with pytest.raises(CliError, match="does not have a service port 81"):
        resolve_ports(through, [PortSpec(None, "81")])
    direct = Selection(web, web, "pods")
    assert resolve_ports(direct, [PortSpec(None, "http"), PortSpec(9, "53")]) == [(8080, 8080), (9, 53)]
    with pytest.raises(CliError, match="does not have a named port 'dns'"):
        resolve_ports(direct, [PortSpec(None, "dns")])


def test_listen_addresses() -> None:
    assert listen_addresses("localhost") == ["127.0.0.1", "::1"]
    assert listen_addresses("127.0.0.1,localhost") == ["127.0.0.1", "::1"]
    assert listen_addresses("0.0.0.0") == ["0.0.0.0"]


def test_log_params_match_kubectls_query() -> None:
    args = build_parser().parse_args(["logs", "web", "-f", "--tail", "3", "--since", "1m30s",
                                      "--timestamps", "-p", "--limit-bytes", "100"])
    assert log_params(args, "app") == {
        "container": "app", "follow": "true", "tailLines": "3", "sinceSeconds": "90",
        "timestamps": "true", "previous": "true", "limitBytes": "100"}
    selected = build_parser().parse_args(["logs", "-l", "app=web"])
    assert log_params(selected, "app") == {"container": "app", "tailLines": "10"}
    both = build_parser().parse_args(["logs", "web", "--since", "5s", "--since-time",
                                      "2025-01-01T00:00:00Z"])
    with pytest.raises(CliError, match="at most one of"):
        log_params(both, "app")


def test_exec_query_in_kubectls_order() -> None:
    assert exec_query(["sh", "-c", "echo hi"], "app", stdin=False, tty=False) == (
        "command=sh&command=-c&command=echo+hi&container=app&stderr=true&stdout=true")
    assert exec_query(["sh"], "app", stdin=True, tty=True) == (
        "command=sh&container=app&stdin=true&stdout=true&tty=true")
