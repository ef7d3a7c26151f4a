"""The ``k8py`` command as a user runs it: a subprocess against a real API server on etcd.

Where kubectl prints something without clocks in it, k8py's output is compared
with the real kubectl's byte for byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.compat.k8pycli import K8PY, ok, one_line_error, run
from tests.compat.manifests import web_deployment, web_service

pytestmark = pytest.mark.compat

MANIFEST = web_deployment(labels="app: web", replicas=2, image="IMAGE", port=80) + """\
        env:
        - {name: MODE, value: fast}
---
""" + web_service(target_port=80)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST.replace("IMAGE", "nginx:1.25"))
    return path


def test_apply_get_reapply_and_delete(kubeconfig: str, namespace: str, manifest: Path,
                                      apiserver: object) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    assert ok(k("apply", "-f", str(manifest))) == "deployment.apps/web created\nservice/web created\n"

    wide = ok(k("get", "deploy", "-o", "wide")).splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                               "IMAGES", "SELECTOR"]
    assert wide[1].split()[0] == "web" and "nginx:1.25" in wide[1]
    both = ok(k("get", "deploy,svc"))
    assert "deployment.apps/web" in both and "\n\nNAME " in both and "service/web" in both
    assert ok(k("get", "deploy,svc", "-o", "name")) == "deployment.apps/web\nservice/web\n"
    assert ok(k("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")) \
        == "nginx:1.25"
    for fmt in ("yaml", "json"):
        assert ok(k("get", "deploy", "web", "-o", fmt)) == \
            ok(k("get", "deploy", "web", "-o", fmt, tool="kubectl"))
    before = orjson.loads(ok(k("get", "deploy", "web", "-o", "json")))

    manifest.write_text(MANIFEST.replace("IMAGE", "nginx:1.26"))
    assert ok(k("apply", "-f", str(manifest))) == \
        "deployment.apps/web configured\nservice/web unchanged\n"
    after = orjson.loads(ok(k("get", "deploy", "web", "-o", "json")))
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    after["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert ok(k("apply", "-f", str(manifest))) == \
        "deployment.apps/web unchanged\nservice/web unchanged\n"
    assert "unchanged" in ok(k("apply", "-f", str(manifest), tool="kubectl"))

    manifest.write_text(MANIFEST.replace("IMAGE", "nginx:1.26").replace(
        "        env:\n        - {name: MODE, value: fast}\n", "").replace("  replicas: 2\n", ""))
    assert ok(k("apply", "-f", str(manifest))).startswith("deployment.apps/web configured\n")
    container = orjson.loads(ok(k("get", "deploy", "web", "-o", "json")))["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in container and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]

    assert ok(k("delete", "-f", str(manifest))) == \
        'deployment.apps "web" deleted\nservice "web" deleted\n'
    assert one_line_error(k("get", "deploy", "web")) == \
        'Error from server (NotFound): deployments.apps "web" not found'


def test_server_side_apply_and_dry_run(kubeconfig: str, namespace: str, manifest: Path) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    assert ok(k("apply", "--dry-run=server", "-f", str(manifest))) == \
        "deployment.apps/web created (server dry run)\nservice/web created (server dry run)\n"
    one_line_error(k("get", "deploy", "web"))
    assert ok(k("apply", "--server-side", "-f", str(manifest))) == \
        "deployment.apps/web serverside-applied\nservice/web serverside-applied\n"
    managers = ok(k("get", "deploy", "web", "-o", "yaml", "--show-managed-fields"))
    assert "manager: k8py" in managers


def test_label_annotate_and_describe(kubeconfig: str, namespace: str, manifest: Path,
                                     apiserver: object) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    ok(k("apply", "-f", str(manifest)))
    assert ok(k("label", "deploy", "web", "tier=fe")) == "deployment.apps/web labeled\n"
    assert one_line_error(k("label", "deploy", "web", "tier=be")) == \
        "error: 'tier' already has a value (fe), and --overwrite is false"
    assert ok(k("label", "deploy/web", "tier=be", "--overwrite")) == "deployment.apps/web labeled\n"
    assert ok(k("annotate", "svc", "web", "owner=team-a")) == "service/web annotated\n"
    assert ok(k("get", "deploy", "-l", "tier=be", "-o", "name")) == "deployment.apps/web\n"
    assert ok(k("get", "deploy", "--show-labels")).splitlines()[1].endswith("app=web,tier=be")

    uid = orjson.loads(ok(k("get", "deploy", "web", "-o", "json")))["metadata"]["uid"]
    event = {"metadata": {"name": "web.1", "namespace": namespace},
             "involvedObject": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "web",
                                "namespace": namespace, "uid": uid},
             "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 2",
             "type": "Normal", "source": {"component": "deployment-controller"}, "count": 1,
             "firstTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "lastTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    url = getattr(apiserver, "url")
    assert httpx.post(f"{url}/api/v1/namespaces/{namespace}/events", json=event).status_code == 201
    described = ok(k("describe", "deploy", "web"))
    assert described.startswith(f"Name:                   web\nNamespace:              {namespace}\n")
    assert "  Normal  ScalingReplicaSet" in described
    assert "deployment-controller  Scaled up replica set web-1 to 2" in described
    for target in (("svc", "web"), ("deploy", "nope")):
        mine, theirs = k("describe", *target), k("describe", *target, tool="kubectl")
        assert (mine.returncode, mine.stdout, mine.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr)


def data_blocks_sorted(described: str) -> str:
    """kubectl walks a ConfigMap's or Secret's data as a Go map, so its key order is random
    from run to run: compare the per-key blocks of the Data section as a set."""
    head, sep, rest = described.partition("\nData\n====\n")
    if not sep:
        return described
    body, sep2, tail = rest.partition("\n\nBinaryData\n")
    blocks = sorted(block.strip("\n") for block in body.split("\n\n") if block.strip())
    return head + sep + "\n\n".join(blocks) + sep2 + tail


def test_create_generators(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    (tmp_path / "app.conf").write_text("debug=true\n")
    assert ok(k("create", "configmap", "cfg", "--from-literal=a=1",
                f"--from-file={tmp_path / 'app.conf'}")) == "configmap/cfg created\n"
    assert ok(k("create", "secret", "generic", "pw", "--from-literal=password=hunter2")) == \
        "secret/pw created\n"
    assert ok(k("create", "service", "clusterip", "api", "--tcp=80:8080")) == "service/api created\n"
    data = orjson.loads(ok(k("get", "cm", "cfg", "-o", "json")))["data"]
    assert data == {"a": "1", "app.conf": "debug=true\n"}
    for target in (("cm", "cfg"), ("secret", "pw")):
        assert data_blocks_sorted(ok(k("describe", *target))) == \
            data_blocks_sorted(ok(k("describe", *target, tool="kubectl")))
    assert "password:  7 bytes" in ok(k("describe", "secret", "pw"))
    assert one_line_error(k("create", "configmap", "cfg", "--from-literal=a=2")) == \
        'Error from server (AlreadyExists): configmaps "cfg" already exists'
    name = f"{namespace}-extra"
    try:
        assert ok(run(kubeconfig, None, "create", "namespace", name)) == f"namespace/{name} created\n"
    finally:
        run(kubeconfig, None, "delete", "namespace", name, "--wait=false")


def test_discovery_version_and_config(kubeconfig: str) -> None:
    assert ok(run(kubeconfig, None, "api-resources")) == \
        ok(run(kubeconfig, None, "api-resources", tool="kubectl"))
    assert ok(run(kubeconfig, None, "config", "get-contexts")) == \
        ok(run(kubeconfig, None, "config", "get-contexts", tool="kubectl"))
    assert ok(run(kubeconfig, None, "config", "view")) == \
        ok(run(kubeconfig, None, "config", "view", tool="kubectl"))
    version = yaml.safe_load(ok(run(kubeconfig, None, "version", "-o", "yaml")))
    assert version["serverVersion"]["minor"] == "32"
    assert ok(run(kubeconfig, None, "version")).startswith("Client Version: v1.32")


def test_errors_are_one_line(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    assert one_line_error(k("get", "pod", "nope")) == 'Error from server (NotFound): pods "nope" not found'
    assert one_line_error(k("get", "flurbs")) == 'error: the server doesn\'t have a resource type "flurbs"'
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n")
    assert one_line_error(k("apply", "-f", str(bad))).startswith(f"error: error parsing {bad}: ")
    assert one_line_error(k("apply", "-f", str(tmp_path / "none.yaml"))) == \
        f'error: the path "{tmp_path / "none.yaml"}" does not exist'
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n")
    mine, theirs = k("apply", "-f", str(invalid)), k("apply", "-f", str(invalid), tool="kubectl")
    assert one_line_error(mine) == theirs.stderr.rstrip("\n")
    assert one_line_error(k("get", "pods", "--bogus")) == "error: unknown flag: --bogus"
    refused = run(kubeconfig, None, "--server", "http://127.0.0.1:1", "get", "pods")
    assert one_line_error(refused) == ("The connection to the server 127.0.0.1:1 was refused - "
                                       "did you specify the right host or port?")


def test_watch_prints_new_rows(kubeconfig: str, namespace: str) -> None:
    proc = subprocess.Popen([K8PY, "--kubeconfig", kubeconfig, "-n", namespace, "get", "cm", "-w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, NO_COLOR="1"))
    try:
        time.sleep(1.0)
        ok(run(kubeconfig, namespace, "create", "configmap", "late", "--from-literal=a=b"))
        assert proc.stdout is not None
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline and "late" not in seen:
            seen += proc.stdout.readline()
        assert "late" in seen and seen.startswith("NAME")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_startup_is_fast() -> None:
    """About 0.1 s on an idle machine; the bound leaves room for a busy one."""
    timings = []
    for _ in range(3):
        started = time.monotonic()
        result = subprocess.run([K8PY, "version", "--client"], capture_output=True, text=True,
                                timeout=10)
        timings.append(time.monotonic() - started)
        assert result.returncode == 0 and result.stdout.startswith("Client Version:")
    assert min(timings) < 1.0, timings
