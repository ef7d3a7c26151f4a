"""``k8py config`` on kubeconfig files, and the commands that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli.main import main

CONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: Zm9v}
- name: b
  cluster: {server: "http://127.0.0.1:8080"}
users:
- name: a
  user: {token: s3cret}
- name: b
  user: {}
contexts:
- name: a
  context: {cluster: a, user: a, namespace: prod}
- name: b
  context: {cluster: b, user: b}
current-context: a
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return str(path)


def test_get_contexts_and_switch(kubeconfig: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kubeconfig", kubeconfig, "config", "get-contexts"]) == 0
    assert capsys.readouterr().out == (
        "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n"
        "*         a      a         a          prod\n"
        "          b      b         b          \n")
    assert main(["--kubeconfig", kubeconfig, "config", "use-context", "b"]) == 0
    assert capsys.readouterr().out == 'Switched to context "b".\n'
    assert main(["config", "current-context", "--kubeconfig", kubeconfig]) == 0
    assert capsys.readouterr().out == "b\n"
    assert main(["--kubeconfig", kubeconfig, "config", "use-context", "zzz"]) == 1
    assert capsys.readouterr().err == 'error: no context exists with the name: "zzz"\n'


def test_view_redacts_unless_raw(kubeconfig: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kubeconfig", kubeconfig, "config", "view"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["users"][0]["user"]["token"] == "REDACTED"
    assert shown["clusters"][0]["cluster"]["certificate-authority-data"] == "DATA+OMITTED"
    assert main(["--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify"]) == 0
    minified = yaml.safe_load(capsys.readouterr().out)
    assert [c["name"] for c in minified["contexts"]] == ["a"]
    assert minified["users"] == [{"name": "a", "user": {"token": "s3cret"}}]


def test_missing_kubeconfig_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kubeconfig", str(tmp_path / "none"), "get", "pods"]) == 1
    assert capsys.readouterr().err == f"error: kubeconfig {tmp_path / 'none'} does not exist\n"


def test_client_version_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "--client"]) == 0
    assert capsys.readouterr().out.startswith("Client Version: v1.32.4-k8py")
    assert main(["completion", "bash"]) == 0
    assert "complete -o default -F _k8py_complete k8py" in capsys.readouterr().out
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef k8py")
    assert main(["__complete", "get", "deplo"]) == 0
    assert capsys.readouterr().out == "deploy\ndeployments\n"
    assert main(["__complete", "config", "use"]) == 0
    assert capsys.readouterr().out == "use-context\nuse\n"
    assert main(["__complete", "get", "pods", "--show-l"]) == 0
    assert capsys.readouterr().out == "--show-labels\n"
