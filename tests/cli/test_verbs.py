"""Verb handlers against the in-memory fake API server: the requests they send and what they print."""

from __future__ import annotations

import asyncio

import orjson

from cli.main import build_parser, subcommands
from tests.cli.fakecli import requests
from tests.machinery.client_fakeapi import FakeApiServer

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: IMAGE}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {a: "1"}
"""


async def test_apply_creates_then_patches_then_leaves_alone(k8py, server: FakeApiServer) -> None:
    first = await k8py("apply", "-f", "-", stdin=MANIFEST.replace("IMAGE", "nginx:1.25"))
    assert first.code == 0, first.err
    assert first.out == "deployment.apps/web created\nconfigmap/settings created\n"
    url, body = requests(server, "POST")[0]
    assert "fieldManager=kubectl-client-side-apply" in url
    assert "kubectl.kubernetes.io/last-applied-configuration" in body["metadata"]["annotations"]

    again = await k8py("apply", "-f", "-", stdin=MANIFEST.replace("IMAGE", "nginx:1.25"))
    assert again.out == "deployment.apps/web unchanged\nconfigmap/settings unchanged\n"
    assert requests(server, "PATCH") == []

    changed = await k8py("apply", "-f", "-", stdin=MANIFEST.replace("IMAGE", "nginx:1.26"))
    assert changed.out == "deployment.apps/web configured\nconfigmap/settings unchanged\n"
    patch = next(r for r in server.requests if r.method == "PATCH")
    assert patch.headers["content-type"] == "application/strategic-merge-patch+json"
    assert orjson.loads(patch.content)["spec"] == {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:1.26"}]}}}


async def test_server_side_apply(k8py, server: FakeApiServer) -> None:
    await k8py("apply", "-f", "-", stdin=MANIFEST.replace("IMAGE", "x"))
    result = await k8py("apply", "--server-side", "--force-conflicts", "-f", "-",
                        stdin=MANIFEST.replace("IMAGE", "x"))
    assert result.out.splitlines()[0] == "deployment.apps/web serverside-applied"
    patch = next(r for r in server.requests if r.method == "PATCH")
    assert patch.headers["content-type"] == "application/apply-patch+yaml"
    assert "force=true" in str(patch.url) and "fieldManager=k8py" in str(patch.url)


async def test_create_reports_each_failure_and_goes_on(k8py) -> None:
    manifest = MANIFEST.replace("IMAGE", "x")
    assert (await k8py("create", "-f", "-", stdin=manifest)).code == 0
    again = await k8py("create", "-f", "-", stdin=manifest)
    assert again.code == 1
    assert again.err.splitlines() == [
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'deployments.apps "web" already exists',
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'configmaps "settings" already exists']


async def test_generators(k8py, server: FakeApiServer) -> None:
    assert (await k8py("create", "configmap", "c", "--from-literal=a=1", "--from-literal=b=2")).out \
        == "configmap/c created\n"
    assert (await k8py("create", "secret", "generic", "s", "--from-literal=pw=hunter2")).out \
        == "secret/s created\n"
    assert (await k8py("create", "namespace", "team")).out == "namespace/team created\n"
    assert (await k8py("create", "service", "nodeport", "svc", "--tcp=80:8080")).code == 0
    bodies = [body for _, body in requests(server, "POST")]
    assert bodies[0]["data"] == {"a": "1", "b": "2"}
    assert bodies[1]["data"] == {"pw": "aHVudGVyMg=="} and bodies[1]["type"] == "Opaque"
    assert bodies[3]["spec"] == {"ports": [{"name": "80-8080", "port": 80, "protocol": "TCP",
                                            "targetPort": 8080}],
                                 "selector": {"app": "svc"}, "type": "NodePort"}
    dry = await k8py("create", "cm", "d", "--from-literal=x=y", "--dry-run=client", "-o", "yaml")
    assert dry.out == "apiVersion: v1\ndata:\n  x: \"y\"\nkind: ConfigMap\nmetadata:\n  name: d\n"


async def test_get_documents_and_names(k8py) -> None:
    await k8py("create", "-f", "-", stdin=MANIFEST.replace("IMAGE", "x"))
    names = await k8py("get", "deploy,cm", "-o", "name")
    assert names.out == "deployment.apps/web\nconfigmap/settings\n"
    single = await k8py("get", "cm/settings", "-o", "jsonpath={.data.a}")
    assert single.out == "1"
    missing = await k8py("get", "cm", "settings", "nope", "-o", "name")
    assert (missing.code, missing.out) == (1, "configmap/settings\n")
    assert missing.err == 'Error from server (NotFound): configmaps "nope" not found\n'
    unknown = await k8py("get", "flurbs")
    assert (unknown.code, unknown.err) == (1, 'error: the server doesn\'t have a resource type "flurbs"\n')


async def test_label_and_annotate(k8py, server: FakeApiServer) -> None:
    await k8py("create", "-f", "-", stdin=MANIFEST.replace("IMAGE", "x"))
    assert (await k8py("label", "deploy", "web", "tier=fe")).out == "deployment.apps/web labeled\n"
    clash = await k8py("label", "deploy/web", "tier=be")
    assert (clash.code, clash.err) == (1, "error: 'tier' already has a value (fe), and --overwrite is false\n")
    assert (await k8py("label", "deploy/web", "tier=be", "--overwrite")).code == 0
    removed = await k8py("label", "deploy", "web", "tier-", "gone-")
    assert removed.out == 'label "gone" not found.\ndeployment.apps/web unlabeled\n'
    assert (await k8py("annotate", "cm", "settings", "note=hi")).out == "configmap/settings annotated\n"
    patches = [orjson.loads(r.content) for r in server.requests if r.method == "PATCH"]
    assert patches[0] == {"metadata": {"labels": {"tier": "fe"}}}
    assert patches[2] == {"metadata": {"labels": {"tier": None}}}
    assert all(r.headers["content-type"] == "application/merge-patch+json"
               for r in server.requests if r.method == "PATCH")


async def test_delete_by_name_file_and_selector(k8py, server: FakeApiServer) -> None:
    manifest = MANIFEST.replace("IMAGE", "x")
    await k8py("create", "-f", "-", stdin=manifest)
    deleted = await k8py("delete", "-f", "-", stdin=manifest)
    assert deleted.out == 'deployment.apps "web" deleted\nconfigmap "settings" deleted\n'
    body = next(orjson.loads(r.content) for r in server.requests if r.method == "DELETE")
    assert body["propagationPolicy"] == "Background"
    assert (await k8py("delete", "cm", "settings")).err == \
        'Error from server (NotFound): configmaps "settings" not found\n'
    await k8py("create", "cm", "a", "--from-literal=x=1")
    await k8py("label", "cm", "a", "app=x")
    assert (await k8py("delete", "cm", "-l", "app=x", "--cascade=foreground")).out == \
        'configmap "a" deleted\n'
    assert (await k8py("delete", "cm")).err == \
        "error: resource(s) were provided, but no name was specified\n"


async def test_bad_input_is_one_line(k8py, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n")
    result = await k8py("apply", "-f", str(bad))
    assert result.code == 1 and result.err.startswith(f"error: error parsing {bad}: ")
    assert result.err.count("\n") == 1
    missing = await k8py("apply", "-f", str(tmp_path / "nope.yaml"))
    assert missing.err == f'error: the path "{tmp_path / "nope.yaml"}" does not exist\n'
    kindless = await k8py("apply", "-f", "-", stdin="metadata: {name: x}\n")
    assert "kind not set" in kindless.err and kindless.code == 1
    unknown = await k8py("apply", "-f", "-", stdin="apiVersion: x/v1\nkind: Y\nmetadata: {name: z}\n")
    assert 'no matches for kind "Y" in version "x/v1"' in unknown.err


def test_global_flags_go_anywhere() -> None:
    args = build_parser().parse_args(["get", "pods", "-n", "kube-system", "web", "-o", "wide",
                                      "--kubeconfig", "/tmp/k"])
    assert (args.targets, args.namespace, args.output, args.kubeconfig) == \
        (["pods", "web"], "kube-system", "wide", "/tmp/k")
    args = build_parser().parse_args(["-n", "a", "get", "pods"])
    assert args.namespace == "a"


def test_other_modules_can_extend_a_verb_group() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "==SUPPRESS==" or a.choices)
    assert "namespace" in subcommands(subparsers, "create").choices


async def test_watch_prints_objects_as_they_change(k8py, server: FakeApiServer) -> None:
    await k8py("create", "cm", "a", "--from-literal=x=1")
    task = asyncio.create_task(k8py("get", "cm", "-w", "-o", "name"))
    await server.wait_for_watchers(1)
    await k8py("create", "cm", "b", "--from-literal=x=1")
    await k8py("delete", "cm", "a", "--wait=false")
    await asyncio.sleep(0.05)
    server.end_watches()
    result = await asyncio.wait_for(task, 5)
    assert (result.code, result.out) == (0, "configmap/a\nconfigmap/b\nconfigmap/a\n")
