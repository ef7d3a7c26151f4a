"""Pods on real Docker through the kubelet: networking, init order, config, DNS files.

Two kubelet processes serve one API server; with no scheduler running, the
tests bind pods by setting ``spec.nodeName``.  Every container is removed by
label after each test (``pod_namespace``) and for the session (``docker_cluster``).
"""

from __future__ import annotations

import base64
import subprocess
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = pytest.mark.e2e

HELLO = "k8py/hello:1.0"
DEBIAN = "debian:bookworm-slim"
# python3 in the hello image has no http.client: fetch with a raw socket.
FETCH = ("import socket,sys; s=socket.create_connection(('127.0.0.1',8080),2); "
         "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(300).decode())")


def pod(name: str, node: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2,
                     "containers": containers, **spec}}


def phase_is(api: Api, ns: str, name: str, *phases: str) -> dict[str, Any] | None:
    found = api.pod(ns, name)
    return found if found and found.get("status", {}).get("phase") in phases else None


def condition(p: dict[str, Any], type_: str) -> str | None:
    for cond in p.get("status", {}).get("conditions") or []:
        if cond["type"] == type_:
            return str(cond["status"])
    return None


def exec_in(cluster: DockerCluster, ns: str, pod_name: str, container: str,
            *command: str) -> str:
    [target] = [c for c in cluster.containers(namespace=ns, pod=pod_name, container=container)
                if c.status == "running"]
    code, out = target.exec_run(list(command))
    assert code == 0, out.decode()
    return out.decode()


def test_two_containers_share_localhost_and_services_are_rejected(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n1"].node
    host_port = free_port()
    api.create_pod(ns, pod("web", node, [
        {"name": "web", "image": HELLO,
         "ports": [{"containerPort": 8080, "hostPort": host_port, "hostIP": "127.0.0.1"}]},
        {"name": "client", "image": HELLO, "command": ["sleep", "3600"]}]))
    running = wait_for(lambda: condition(api.pod(ns, "web") or {}, "Ready") == "True" and
                       api.pod(ns, "web"), 40, what="pod web Ready")
    status = running["status"]
    assert status["phase"] == "Running"
    assert status["hostIP"] == "127.0.0.1" and status["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert status["podIP"] and status["podIPs"] == [{"ip": status["podIP"]}]
    for cs in status["containerStatuses"]:
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
        assert cs["containerID"].startswith("docker://") and "running" in cs["state"]
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {"PodScheduled": "True", "PodReadyToStartContainers": "True",
                     "Initialized": "True", "Ready": "True", "ContainersReady": "True"}
    # localhost is shared: the client container reaches the web container.
    out = exec_in(docker_cluster, ns, "web", "client", "python3", "-c", FETCH)
    assert "Hello from web" in out
    # A hostPort is published on the node (here: loopback).
    assert "Hello from web" in httpx.get(f"http://127.0.0.1:{host_port}/", timeout=5).text
    # The sandbox carries the labels and the pod's IP; the app joins its namespaces.
    [sandbox] = docker_cluster.containers(namespace=ns, pod="web", kind="sandbox")
    assert sandbox.labels["io.k8py.node"] == node
    assert sandbox.attrs["NetworkSettings"]["Networks"][docker_cluster.network]["IPAddress"] \
        == status["podIP"]
    [web] = docker_cluster.containers(namespace=ns, pod="web", container="web")
    assert web.attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
    assert web.labels["io.k8py.kind"] == "app" and web.labels["io.k8py.restart-count"] == "0"
    # A ClusterIP with no DNAT is refused inside the pod at once (tcp-reset).
    probe = ("import socket\ntry:\n socket.create_connection(('10.96.0.1',443),3)\n"
             " print('connected')\nexcept ConnectionRefusedError:\n print('refused')\n"
             "except OSError as e:\n print('other', e)")
    assert exec_in(docker_cluster, ns, "web", "client", "python3", "-c", probe).strip() \
        == "refused"
    rules = subprocess.run(["nsenter", "-t", str(sandbox.attrs["State"]["Pid"]), "-n",
                            "iptables", "-S", "OUTPUT"], capture_output=True, text=True,
                           check=True).stdout
    assert "-A OUTPUT -j K8PY-SERVICE-REJECT" in rules


def test_init_containers_run_in_order_before_the_app(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n2"].node
    mount = [{"name": "work", "mountPath": "/work"}]
    api.create_pod(ns, pod("init", node, [
        {"name": "app", "image": DEBIAN, "command": ["sh", "-c", "echo app >> /work/log; sleep 3600"],
         "volumeMounts": mount}],
        initContainers=[
            {"name": "first", "image": DEBIAN, "command": ["sh", "-c", "sleep 1; echo first >> /work/log"],
             "volumeMounts": mount},
            {"name": "second", "image": DEBIAN, "command": ["sh", "-c", "echo second >> /work/log"],
             "volumeMounts": mount}],
        volumes=[{"name": "work", "emptyDir": {}}]))
    running = wait_for(lambda: phase_is(api, ns, "init", "Running"), 40, what="running")
    inits = running["status"]["initContainerStatuses"]
    assert [s["name"] for s in inits] == ["first", "second"]
    for s in inits:
        assert s["state"]["terminated"]["reason"] == "Completed"
        assert s["state"]["terminated"]["exitCode"] == 0
    assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
    assert condition(running, "Initialized") == "True"
    app = running["status"]["containerStatuses"][0]
    assert app["state"]["running"]["startedAt"] >= inits[1]["state"]["terminated"]["finishedAt"]
    log = wait_for(lambda: exec_in(docker_cluster, ns, "init", "app", "cat", "/work/log"), 20)
    assert log.split() == ["first", "second", "app"]


def test_env_and_volumes_from_configmap_and_secret(
        api: Api, kubelets: dict[str, KubeletProcess], docker_cluster: DockerCluster,
        pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n1"].node
    api.create(f"/api/v1/namespaces/{ns}/configmaps", {
        "metadata": {"name": "settings"}, "data": {"color": "blue", "size": "L"}})
    api.create(f"/api/v1/namespaces/{ns}/secrets", {
        "metadata": {"name": "creds"},
        "data": {"password": base64.b64encode(b"s3cret").decode()}})
    api.create_pod(ns, pod("cfg", node, [{
        "name": "app", "image": DEBIAN, "command": ["sleep", "3600"],
        "env": [
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "MISSING", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x",
                                                                "optional": True}}},
            {"name": "GREETING", "value": "$(COLOR)-$(POD_NAME)-$$(COLOR)"},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CM_"}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/config"},
                         {"name": "secret", "mountPath": "/etc/secret", "readOnly": True},
                         {"name": "info", "mountPath": "/etc/info"}]}],
        volumes=[{"name": "config", "configMap": {"name": "settings"}},
                 {"name": "secret", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                               "items": [{"key": "password", "path": "db/pw"}]}},
                 {"name": "info", "downwardAPI": {"items": [
                     {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}]))
    running = wait_for(lambda: phase_is(api, ns, "cfg", "Running"), 40, what="running")
    env = dict(line.split("=", 1) for line in
               exec_in(docker_cluster, ns, "cfg", "app", "env").splitlines() if "=" in line)
    assert env["COLOR"] == "blue" and env["PASSWORD"] == "s3cret" and "MISSING" not in env
    assert env["GREETING"] == "blue-$(POD_NAME)-$(COLOR)"
    assert env["CM_color"] == "blue" and env["CM_size"] == "L"
    assert env["NODE"] == node and env["POD_IP"] == running["status"]["podIP"]
    assert exec_in(docker_cluster, ns, "cfg", "app", "cat", "/etc/config/color") == "blue"
    assert exec_in(docker_cluster, ns, "cfg", "app", "cat", "/etc/secret/db/pw") == "s3cret"
    mode = exec_in(docker_cluster, ns, "cfg", "app", "stat", "-L", "-c", "%a", "/etc/secret/db/pw")
    assert mode.strip() == "400"
    assert exec_in(docker_cluster, ns, "cfg", "app", "cat", "/etc/info/name") == "cfg"
    # An updated ConfigMap reaches the mounted folder of the running container.
    settings = api.get(f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert settings is not None
    settings["data"]["color"] = "green"
    assert api.http.put(f"/api/v1/namespaces/{ns}/configmaps/settings",
                        json=settings).status_code == 200
    wait_for(lambda: exec_in(docker_cluster, ns, "cfg", "app", "cat",
                             "/etc/config/color") == "green", 30, what="configmap update")


def test_missing_configmap_blocks_the_container_with_an_event(
        api: Api, kubelets: dict[str, KubeletProcess], pod_namespace: str) -> None:
    ns, node = pod_namespace, kubelets["n2"].node
    api.create_pod(ns, pod("nocfg", node, [{
        "name": "app", "image": DEBIAN, "command": ["sleep", "3600"],
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}]))
    waiting = wait_for(lambda: ((api.pod(ns, "nocfg") or {}).get("status", {})
                                .get("containerStatuses") or [{}])[0].get("state", {})
                       .get("waiting", {}).get("reason") == "CreateContainerConfigError", 30,
                       what="CreateContainerConfigError")
    assert waiting
    events = api.events(ns, "nocfg")
    assert any(e["reason"] == "Failed" and 'configmap "absent" not found' in e["message"]
               for e in events)
