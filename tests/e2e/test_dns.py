"""Cluster DNS end to end: pods resolve Services through kube-dns on real Docker.

Two nodes (kubelet + kube-proxy each) hand their pods ``nameserver
10.96.0.10`` with the cluster search path; kube-proxy DNATs that ClusterIP
(UDP and TCP port 53) to ``python -m dns`` on the bridge gateway.  A toolbox
pod then reaches the hello app by short and full names, and ``dig`` checks
headless, ExternalName, SRV, hostname/subdomain, PTR and NXDOMAIN answers.
Names outside the cluster go only to a fake upstream on the host's loopback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiServerProcess
from tests.e2e.addons import (
    DNS_SERVICE_IP, UPSTREAM_ANSWER, AddonCluster, module_namespace, steady,
)
from tests.e2e.cluster import HELLO, client_pod, deployment, exec_in, running, service
from tests.e2e.conftest import Api, DockerCluster, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
HELLO_REPLY = re.compile(r"Hello from (\S+) \(version")


@dataclass
class Env:
    api: Api
    docker: DockerCluster
    cluster: AddonCluster
    ns: str

    def sh(self, command: str) -> tuple[int, str]:
        return exec_in(self.docker, self.ns, "client", "client", "sh", "-c", command)

    def dig(self, *args: str) -> list[str]:
        code, out = self.sh("dig +short +time=2 +tries=2 " + " ".join(args))
        assert code == 0, out
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def fqdn(self, name: str) -> str:
        return f"{name}.{self.ns}.svc.cluster.local"

    def pod_ips(self, selector: str) -> set[str]:
        pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods?labelSelector={selector}") or {}
        return {p["status"]["podIP"] for p in pods.get("items") or []
                if (p.get("status") or {}).get("podIP")}

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.create(f"/api/v1/namespaces/{self.ns}/{path}", body)


@pytest.fixture(scope="module")
def addon_cluster(apiserver: ApiServerProcess, docker_cluster: DockerCluster,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[AddonCluster]:
    with running(AddonCluster(apiserver.url, docker_cluster,
                              Path(tmp_path_factory.mktemp("dns")))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def env(api: Api, docker_cluster: DockerCluster, addon_cluster: AddonCluster) -> Iterator[Env]:
    with module_namespace(api, addon_cluster, "dns") as ns:
        state = Env(api, docker_cluster, addon_cluster, ns)
        selector = addon_cluster.node_selector
        api.create(f"/apis/apps/v1/namespaces/{ns}/deployments",
                   steady(deployment("hello", 2, selector)))
        http = {"name": "http", "port": 80, "targetPort": "http"}
        state.create("services", service("hello", {"app": "hello"}, [
            http, {"name": "alt", "port": 8080, "targetPort": "http"}]))
        state.create("services", service("hello-headless", {"app": "hello"}, [http],
                                         clusterIP="None"))
        state.create("services", service("ext", None, [], type="ExternalName",
                                         externalName="upstream.example.test"))
        state.create("services", service("db", {"app": "db"}, [http], clusterIP="None"))
        state.create("pods", {"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": "db-0", "labels": {"app": "db"}},
                              "spec": {"hostname": "db-0", "subdomain": "db",
                                       "nodeSelector": selector,
                                       "terminationGracePeriodSeconds": 0,
                                       "containers": [{"name": "web", "image": HELLO,
                                                       "ports": [{"name": "http",
                                                                  "containerPort": 8080}]}]}})
        state.create("pods", client_pod("client", addon_cluster.nodes[0].name))
        wait_for(lambda: len(state.pod_ips("app%3Dhello")) == 2, 90, what="2 hello pods")
        for name in ("client", "db-0"):
            wait_for(lambda: (api.pod(ns, name) or {}).get("status", {}).get("phase") ==
                     "Running", 90, what=f"{name} running")
        yield state


def test_pods_get_the_cluster_resolv_conf(env: Env) -> None:
    code, conf = env.sh("cat /etc/resolv.conf")
    assert code == 0
    assert f"nameserver {DNS_SERVICE_IP}" in conf
    assert f"search {env.ns}.svc.cluster.local svc.cluster.local cluster.local" in conf
    assert "options ndots:5" in conf
    kube_dns = env.api.get("/api/v1/namespaces/kube-system/services/kube-dns") or {}
    assert kube_dns["spec"]["clusterIP"] == DNS_SERVICE_IP


def test_curl_reaches_hello_by_short_and_full_name(env: Env) -> None:
    def reply(url: str) -> str:
        code, out = env.sh(f"curl -s -m 5 {url}")
        return out if code == 0 and HELLO_REPLY.search(out) else ""

    assert wait_for(lambda: reply("http://hello/"), 20, what="curl http://hello/")
    assert reply(f"http://{env.fqdn('hello')}:8080/")
    assert reply(f"http://hello.{env.ns}/")  # the svc.cluster.local search entry


def test_service_names_over_udp_and_tcp(env: Env) -> None:
    cluster_ip = (env.api.get(f"/api/v1/namespaces/{env.ns}/services/hello") or {})[
        "spec"]["clusterIP"]
    assert env.dig(env.fqdn("hello")) == [cluster_ip]
    assert env.dig("+tcp", env.fqdn("hello")) == [cluster_ip]
    assert env.dig("-x", cluster_ip) == [env.fqdn("hello") + "."]


def test_headless_service_returns_its_pods(env: Env) -> None:
    expected = sorted(env.pod_ips("app%3Dhello"))
    assert wait_for(lambda: env.dig(env.fqdn("hello-headless")) == expected, 20,
                    what="headless answers")


def test_srv_record_for_a_named_port(env: Env) -> None:
    assert env.dig("SRV", f"_http._tcp.{env.fqdn('hello')}") == [
        f"0 100 80 {env.fqdn('hello')}."]
    pods = {ip.replace(".", "-") for ip in env.pod_ips("app%3Dhello")}
    expected = sorted(f"0 50 8080 {ip}.{env.fqdn('hello-headless')}." for ip in pods)
    assert wait_for(lambda: env.dig("SRV", f"_http._tcp.{env.fqdn('hello-headless')}")
                    == expected, 20, what="one SRV record per ready endpoint")


def test_external_name_is_a_cname(env: Env) -> None:
    assert env.dig("CNAME", env.fqdn("ext")) == ["upstream.example.test."]


def test_hostname_and_subdomain_pod_resolves(env: Env) -> None:
    [db_ip] = env.pod_ips("app%3Ddb")
    assert wait_for(lambda: env.dig(f"db-0.{env.fqdn('db')}") == [db_ip], 20,
                    what="db-0.db record")
    code, out = env.sh("getent ahostsv4 db-0.db")  # through the search path
    assert code == 0 and out.split()[0] == db_ip


def test_unknown_names_are_nxdomain_and_others_go_upstream(env: Env) -> None:
    code, out = env.sh(f"dig +time=2 nope.{env.ns}.svc.cluster.local")
    assert code == 0 and "status: NXDOMAIN" in out
    assert env.dig("www.example.test") == [UPSTREAM_ANSWER]
    asked = [name for _, name, _ in env.cluster.upstream.asked()]
    assert "www.example.test" in asked
    assert not any(name.endswith("cluster.local") for name in asked)
