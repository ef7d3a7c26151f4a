"""The real kubectl 1.32 against the API server: apply, get, scale, label, describe, watch, delete, errors."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from tests.compat.manifests import web_deployment, web_service

pytestmark = pytest.mark.compat

SERVICE = "---\n" + web_service(target_port=8080)


def web_manifest(image: str) -> str:
    return web_deployment(labels="app: web", replicas=2, image=image, port=8080) + SERVICE


@pytest.fixture
def kubectl(kubeconfig, namespace):
    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", "--kubeconfig", kubeconfig, "-n", namespace, *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "KUBECACHEDIR": os.path.join(os.path.dirname(kubeconfig), "cache")})
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return proc
    return run


def test_apply_get_edit_scale_label_describe_delete(kubectl, tmp_path, namespace):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(web_manifest("k8py/hello:1.0"))
    out = kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web created" in out and "service/web created" in out

    out = kubectl("get", "deploy,svc", "-o", "wide").stdout
    assert "READY" in out and "UP-TO-DATE" in out and "AVAILABLE" in out and "CONTAINERS" in out
    assert "CLUSTER-IP" in out and "80/TCP" in out and "app=web" in out

    manifest.write_text(web_manifest("k8py/hello:2.0"))
    out = kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web configured" in out and "service/web unchanged" in out
    image = kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "k8py/hello:2.0"

    out = kubectl("apply", "--server-side", "-f", str(manifest)).stdout
    assert "serverside-applied" in out

    assert "scaled" in kubectl("scale", "deploy/web", "--replicas=3").stdout
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3"

    assert "labeled" in kubectl("label", "deploy", "web", "tier=front").stdout
    assert "tier=front" in kubectl("get", "deploy", "web", "--show-labels").stdout

    out = kubectl("describe", "deploy", "web").stdout
    assert "RollingUpdate" in out and "25% max unavailable, 25% max surge" in out
    out = kubectl("describe", "svc", "web").stdout
    assert "80/TCP" in out and "8080/TCP" in out

    out = kubectl("delete", "-f", str(manifest)).stdout
    assert 'deployment.apps "web" deleted' in out and 'service "web" deleted' in out


def test_get_watch_receives_changes(kubectl, kubeconfig, namespace, apiserver):
    base = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
    httpx.post(base, json={"metadata": {"name": "w1"}})
    proc = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "-n", namespace, "get", "cm", "-w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        httpx.post(base, json={"metadata": {"name": "w2"}})
        time.sleep(1.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "w1" in out and "w2" in out


def test_errors_print_like_kubernetes(kubectl, tmp_path, namespace, apiserver):
    p = kubectl("get", "pod", "nope", check=False)
    assert p.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in p.stderr

    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n")
    kubectl("create", "-f", str(cm))
    p = kubectl("create", "-f", str(cm), check=False)
    assert p.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating' in p.stderr
    assert 'configmaps "dup" already exists' in p.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text(web_manifest("x").split("---")[0].replace("replicas: 2", "replicas: -1"))
    p = kubectl("apply", "-f", str(bad), check=False)
    assert p.returncode == 1
    # kubectl renders an Invalid Status from its details, as it does for Kubernetes.
    assert 'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0' \
        in p.stderr
    status = httpx.post(f"{apiserver.url}/apis/apps/v1/namespaces/{namespace}/deployments",
                        content=bad.read_text(), headers={"Content-Type": "application/yaml"}).json()
    assert status["code"] == 422 and status["details"]["kind"] == "Deployment"
    assert status["message"].startswith('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1')

    stale = httpx.get(f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps/dup").json()
    httpx.patch(f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps/dup", json={"data": {"a": "b"}},
                headers={"Content-Type": "application/merge-patch+json"})
    path = tmp_path / "stale.json"
    import json
    path.write_text(json.dumps(stale))
    p = kubectl("replace", "-f", str(path), check=False)
    assert p.returncode == 1
    assert "Error from server (Conflict)" in p.stderr
    assert "the object has been modified; please apply your changes to the latest version and try again" in p.stderr

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u}\nbogus: 1\n")
    p = kubectl("apply", "-f", str(unknown), check=False)
    assert p.returncode == 1 and 'unknown field "bogus"' in p.stderr

    p = kubectl("get", "widgets", check=False)
    assert p.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in p.stderr


def test_api_resources_short_names(kubectl):
    out = kubectl("api-resources").stdout
    for short in ("deploy", "svc", "po", "ns", "cm", "rs", "sts", "ds", "cj"):
        assert f" {short} " in out or f" {short}," in out or f",{short} " in out
