"""``k8py edit`` against the in-memory fake API server, with ``KUBE_EDITOR`` a small shell script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cli.edit import HEADER, strip_comments, two_way_patch
from machinery import errors
from machinery.resources import lookup
from tests.machinery.client_fakeapi import FakeApiServer


@pytest.fixture
def server() -> FakeApiServer:
    """Overrides the conftest's empty server, so ``k8py`` runs against these objects."""
    server = FakeApiServer()
    deployments, configmaps = lookup("deployments"), lookup("configmaps")
    assert deployments is not None and configmaps is not None
    server.put(deployments, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "x"}]}}}})
    server.put(configmaps, {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "settings", "namespace": "default"},
                            "data": {"mode": "slow"}})
    return server


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(body: str) -> Path:
        script = tmp_path / "editor.sh"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        monkeypatch.setenv("KUBE_EDITOR", str(script))
        return tmp_path
    return use


def patches(server: FakeApiServer) -> list[httpx.Request]:
    return [r for r in server.requests if r.method == "PATCH"]


async def test_edit_sends_a_strategic_patch_with_the_resource_version(
        k8py: Any, server: FakeApiServer, editor: Any) -> None:
    editor("sed -i 's/replicas: 1/replicas: 3/' \"$1\"")
    result = await k8py("edit", "deploy/web")
    assert (result.code, result.out, result.err) == (0, "deployment.apps/web edited\n", "")
    [patch] = patches(server)
    assert patch.headers["content-type"] == "application/strategic-merge-patch+json"
    assert "fieldManager=kubectl-edit" in str(patch.url)
    assert orjson.loads(patch.content) == {"spec": {"replicas": 3},
                                           "metadata": {"resourceVersion": "101"}}


async def test_configmap_data_and_output(k8py: Any, server: FakeApiServer, editor: Any) -> None:
    editor("sed -i 's/\"mode\": \"slow\"/\"mode\": \"fast\"/' \"$1\"")  # -o json edits JSON
    result = await k8py("edit", "configmap", "settings", "-o", "json")
    assert result.code == 0, result.err
    assert orjson.loads(result.out)["data"] == {"mode": "fast"}
    assert orjson.loads(patches(server)[0].content)["data"] == {"mode": "fast"}


async def test_the_file_holds_the_header_and_the_object(k8py: Any, editor: Any) -> None:
    seen = editor('cp "$1" "$(dirname "$0")/seen"') / "seen"
    result = await k8py("edit", "cm/settings")
    assert (result.code, result.out, result.err) == (0, "", "Edit cancelled, no changes made.\n")
    text = seen.read_text()
    assert text.startswith(HEADER + "apiVersion: v1\ndata:\n  mode: slow\nkind: ConfigMap\n")


async def test_an_emptied_file_cancels(k8py: Any, server: FakeApiServer, editor: Any) -> None:
    editor("sed -i '/^[^#]/d' \"$1\"")
    result = await k8py("edit", "cm/settings")
    assert (result.code, result.err) == (0, "Edit cancelled, saved file was empty.\n")
    assert patches(server) == []


async def test_a_refused_change_is_reopened_with_the_error(
        k8py: Any, server: FakeApiServer, editor: Any) -> None:
    invalid = errors.Invalid('Deployment.apps "web" is invalid', name="web", kind="Deployment",
                             causes=[{"field": "spec.replicas", "message": "must be >= 0"}])

    def refuse_negative(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PATCH" and b'"replicas":-1' in request.content:
            return httpx.Response(422, json=invalid.to_status())
        return None

    server.fail.append(refuse_negative)
    folder = editor('if grep -q "was not valid" "$1"; then cp "$1" "$(dirname "$0")/reopened";'
                    " sed -i 's/replicas: -1/replicas: 2/' \"$1\";"
                    " else sed -i 's/replicas: 1/replicas: -1/' \"$1\"; fi")
    result = await k8py("edit", "deploy/web")
    assert (result.code, result.out) == (0, "deployment.apps/web edited\n"), result.err
    reopened = (folder / "reopened").read_text()
    assert reopened.startswith(HEADER + '# deployments.apps "web" was not valid:\n'
                               "# * spec.replicas: must be >= 0\n#\n")
    assert "replicas: -1" in reopened
    assert [orjson.loads(p.content)["spec"]["replicas"] for p in patches(server)] == [-1, 2]


async def test_the_same_refused_content_again_fails(
        k8py: Any, server: FakeApiServer, editor: Any) -> None:
    server.fail.append(lambda request: httpx.Response(
        409, json=errors.Conflict("the object has been modified").to_status())
        if request.method == "PATCH" else None)
    editor("sed -i 's/replicas: 1/replicas: 3/' \"$1\"")
    result = await k8py("edit", "deploy/web")
    assert (result.code, result.out) == (1, "")
    assert result.err == "Error from server (Conflict): the object has been modified\n"
    assert len(patches(server)) == 1


async def test_errors_are_one_line(k8py: Any, server: FakeApiServer, editor: Any) -> None:
    editor("exit 2")
    failed = await k8py("edit", "cm/settings")
    assert failed.code == 1 and failed.err.startswith("error: there was a problem with the editor")
    missing = await k8py("edit", "cm/nope")
    assert (missing.code, missing.err) == (
        1, 'Error from server (NotFound): configmaps "nope" not found\n')
    editor("sed -i 's/name: settings/name: other/' \"$1\"")
    renamed = await k8py("edit", "cm/settings")
    assert (renamed.code, renamed.err) == (
        1, "error: At least one of apiVersion, kind and name was changed\n")
    assert patches(server) == []


def test_comments_are_dropped_and_patches_are_two_way() -> None:
    assert strip_comments("# a\nx: 1\n  # b\ny: 2\n") == "x: 1\ny: 2\n"
    original = {"apiVersion": "example.com/v1", "kind": "Widget",
                "spec": {"a": 1, "b": [1, 2]}}
    edited = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"b": [2]}}
    assert two_way_patch(original, edited, "example.com/v1", "Widget") == (
        {"spec": {"a": None, "b": [2]}}, "merge")
