"""``k8py expose`` and ``k8py edit`` as a user runs them, against a real API server.

``expose`` must build the Service kubectl builds (compared through kubectl's
own client-side dry run); ``edit`` runs with ``KUBE_EDITOR`` set to a small
script, so no terminal is needed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.compat.k8pycli import K8PY, ok, one_line_error, run
from tests.compat.manifests import web_deployment

pytestmark = pytest.mark.compat

DEPLOYMENT = web_deployment(labels="app: web, tier: front", replicas=1, image="nginx:1.25",
                            port=8080) + """\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: expr
spec:
  replicas: 1
  selector:
    matchLabels: {app: expr}
    matchExpressions:
    - {key: tier, operator: In, values: [a]}
  template:
    metadata:
      labels: {app: expr, tier: a}
    spec:
      containers:
      - {name: c, image: nginx:1.25}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: slow
"""


def edit(kubeconfig: str, namespace: str, script: str, *args: str,
         tool: str = K8PY) -> subprocess.CompletedProcess[str]:
    argv = [tool, "--kubeconfig", kubeconfig, "-n", namespace, "edit", *args]
    env = dict(os.environ, NO_COLOR="1", KUBE_EDITOR=script)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def objects(kubeconfig: str, namespace: str, tmp_path: Path) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(DEPLOYMENT)
    ok(run(kubeconfig, namespace, "apply", "-f", str(path)))
    return path


def test_expose_a_deployment(kubeconfig: str, namespace: str, objects: Path) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    for extra in ((), ("--port=80", "--target-port=8080", "--name=front", "--type=NodePort")):
        ours = orjson.loads(ok(k("expose", "deploy/web", *extra, "--dry-run=client", "-o", "json")))
        theirs = orjson.loads(ok(k("expose", "deploy/web", *extra, "--dry-run=client", "-o", "json",
                                   tool="kubectl")))
        assert ours == theirs

    assert ok(k("expose", "deployment", "web")) == "service/web exposed\n"
    service = orjson.loads(ok(k("get", "svc", "web", "-o", "json", tool="kubectl")))
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert [(p["port"], p["targetPort"], p["protocol"]) for p in service["spec"]["ports"]] == \
        [(8080, 8080, "TCP")]
    assert service["spec"]["type"] == "ClusterIP"

    assert ok(k("expose", "deploy/web", "--port=80", "--target-port=8080", "--name=front",
                "--type", "NodePort")) == "service/front exposed\n"
    front = orjson.loads(ok(k("get", "svc", "front", "-o", "json", tool="kubectl")))
    assert front["spec"]["type"] == "NodePort"
    port = front["spec"]["ports"][0]
    assert (port["port"], port["targetPort"]) == (80, 8080) and 30000 <= port["nodePort"] <= 32767

    assert ok(k("expose", "svc/front", "--name=again")) == "service/again exposed\n"
    again = orjson.loads(ok(k("get", "svc", "again", "-o", "json")))
    assert again["spec"]["selector"] == {"app": "web"} and again["spec"]["ports"][0]["port"] == 80


def test_expose_errors_are_one_line(kubeconfig: str, namespace: str, objects: Path) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    assert one_line_error(k("expose", "deploy/expr", "--selector=app=expr")) == \
        "error: couldn't find port via --port flag or introspection"
    for args in (("deploy/expr", "--port=80"), ("deploy/expr", "--selector=app=expr")):
        theirs = k("expose", *args, tool="kubectl")
        assert theirs.returncode == 1
        assert one_line_error(k("expose", *args)) == theirs.stderr.splitlines()[0]
    assert one_line_error(k("expose", "deploy/expr", "--port=80")).startswith(
        "error: couldn't retrieve selectors via --selector flag or introspection: "
        "couldn't convert expressions")
    assert one_line_error(k("expose", "cm/settings", "--port=80")) == \
        "error: cannot expose a ConfigMap"
    assert one_line_error(k("expose", "deploy/nope", "--port=80")) == \
        'Error from server (NotFound): deployments.apps "nope" not found'
    ok(k("expose", "deploy/web"))
    assert one_line_error(k("expose", "deploy/web")) == \
        'Error from server (AlreadyExists): services "web" already exists'


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_edit_configmap_and_deployment(kubeconfig: str, namespace: str, objects: Path,
                                       tmp_path: Path) -> None:
    k = lambda *a: run(kubeconfig, namespace, *a)  # noqa: E731
    data = _script(tmp_path, "data.sh", "sed -i 's/mode: slow/mode: fast/' \"$1\"")
    result = edit(kubeconfig, namespace, data, "configmap/settings")
    assert (result.returncode, result.stdout) == (0, "configmap/settings edited\n"), result.stderr
    assert ok(k("get", "cm", "settings", "-o", "jsonpath={.data.mode}")) == "fast"

    replicas = _script(tmp_path, "replicas.sh", "sed -i 's/replicas: 1/replicas: 3/' \"$1\"")
    result = edit(kubeconfig, namespace, replicas, "deploy", "web")
    assert (result.returncode, result.stdout) == (0, "deployment.apps/web edited\n"), result.stderr
    assert ok(k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")) == "3"

    header = _script(tmp_path, "header.sh", f"head -4 \"$1\" > {tmp_path}/header")
    for tool in (K8PY, "kubectl"):
        result = edit(kubeconfig, namespace, header, "cm/settings", tool=tool)
        assert result.returncode == 0 and result.stdout == ""
        assert result.stderr == "Edit cancelled, no changes made.\n"
        if tool == K8PY:
            ours = (tmp_path / "header").read_text()
    assert ours == (tmp_path / "header").read_text()


def test_edit_errors(kubeconfig: str, namespace: str, objects: Path, tmp_path: Path) -> None:
    negative = _script(tmp_path, "negative.sh", "sed -i 's/replicas: 1/replicas: -1/' \"$1\"")
    result = edit(kubeconfig, namespace, negative, "deploy/web")
    assert one_line_error(result).startswith('The Deployment "web" is invalid: spec.replicas')
    marker = tmp_path / "seen"
    record = _script(tmp_path, "record.sh",
                     f"grep -q 'was not valid' \"$1\" && touch {marker}; "
                     "sed -i 's/replicas: 1/replicas: -1/' \"$1\"")
    assert edit(kubeconfig, namespace, record, "deploy/web").returncode == 1
    assert marker.exists()

    assert one_line_error(edit(kubeconfig, namespace, "true", "deploy/nope")) == \
        'Error from server (NotFound): deployments.apps "nope" not found'
    failing = _script(tmp_path, "fail.sh", "exit 3")
    assert one_line_error(edit(kubeconfig, namespace, failing, "cm/settings")).startswith(
        "error: there was a problem with the editor")
