"""Kubeconfig loading, resolution and the atomic editors used by the CLI."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml

from machinery import kubeconfig
from machinery.kubeconfig import (
    KubeconfigError,
    load,
    merge_context,
    remove_context,
    render,
    use_context,
)


def write(path: Path, doc: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def config(cluster: str, server: str, *, user: dict | None = None, ns: str | None = None,
           current: str | None = None) -> dict:
    ctx = {"cluster": cluster, "user": cluster}
    if ns:
        ctx["namespace"] = ns
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server}}],
        "users": [{"name": cluster, "user": user or {}}],
        "contexts": [{"name": cluster, "context": ctx}],
        "current-context": current or "",
    }


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


@pytest.fixture(scope="module")
def pem_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    out = tmp_path_factory.mktemp("pki")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=k8py-test", "-keyout", str(out / "k.pem"), "-out", str(out / "c.pem")],
        check=True, capture_output=True)
    return (out / "c.pem").read_bytes(), (out / "k.pem").read_bytes()


def test_exports_exist() -> None:
    for name in kubeconfig.__all__:
        assert hasattr(kubeconfig, name), name


def test_explicit_path_resolves_current_context(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config("dev", "http://127.0.0.1:6443/", user={"token": "t0k"},
                                          ns="apps", current="dev"))
    resolved = load(path).context()
    assert resolved.server == "http://127.0.0.1:6443"
    assert resolved.namespace == "apps"
    assert resolved.token == "t0k"
    assert resolved.insecure is False
    assert resolved.ssl_context() is None


def test_namespace_defaults_and_named_context(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config("dev", "http://127.0.0.1:1"))
    kc = load(path)
    assert kc.current_context is None
    with pytest.raises(KubeconfigError, match="current-context"):
        kc.context()
    assert kc.context("dev").namespace == "default"


def test_default_location_is_home(isolated_home: Path) -> None:
    write(isolated_home / ".kube" / "config", config("home", "http://127.0.0.1:2", current="home"))
    assert load().context().name == "home"


def test_kubeconfig_env_merges_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = config("a", "http://127.0.0.1:1", current="a")
    first["clusters"].append({"name": "shared", "cluster": {"server": "http://first"}})
    second = config("b", "http://127.0.0.1:2", current="b")
    second["clusters"].append({"name": "shared", "cluster": {"server": "http://second"}})
    p1 = write(tmp_path / "one", first)
    p2 = write(tmp_path / "two", second)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([p1, str(tmp_path / "missing"), p2]))
    kc = load()
    assert kc.current_context == "a"
    assert set(kc.contexts) == {"a", "b"}
    assert kc.clusters["shared"]["server"] == "http://first"
    assert kc.context("b").server == "http://127.0.0.1:2"
    assert kc.paths == [p1, p2]


def test_relative_paths_resolve_against_defining_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "token").write_text("from-file\n")
    doc = config("c", "https://127.0.0.1:6443", user={"tokenFile": "token",
                                                        "client-certificate": "c.crt",
                                                        "client-key": "c.key"}, current="c")
    doc["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    resolved = load(write(tmp_path / "conf" / "kc", doc)).context()
    assert resolved.token == "from-file"
    assert resolved.ca_file == str(tmp_path / "conf" / "ca.crt")
    assert resolved.client_cert_file == str(tmp_path / "conf" / "c.crt")
    assert resolved.client_key_file == str(tmp_path / "conf" / "c.key")


def test_inline_tls_material_builds_an_ssl_context(tmp_path: Path,
                                                   pem_pair: tuple[bytes, bytes]) -> None:
    cert, key = pem_pair
    doc = config("tls", "https://127.0.0.1:6443", current="tls", user={
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode()})
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(cert).decode()
    resolved = load(write(tmp_path / "kc", doc)).context()
    assert resolved.ca_data == cert and resolved.client_key_data == key
    ctx = resolved.ssl_context()
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert any("k8py-test" in str(c.get("subject")) for c in ctx.get_ca_certs())


def test_insecure_skip_verify(tmp_path: Path) -> None:
    doc = config("x", "https://127.0.0.1:6443", current="x")
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    ctx = load(write(tmp_path / "kc", doc)).context().ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


@pytest.mark.parametrize("content, message", [
    ("a: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "not a YAML mapping"),
    ("clusters:\n- cluster: {server: x}\n", "without a name"),
])
def test_invalid_files_raise_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "kc"
    path.write_text(content)
    with pytest.raises(KubeconfigError, match=message) as info:
        load(str(path))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_files_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KubeconfigError, match="does not exist"):
        load(str(tmp_path / "nope"))
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load()


def test_dangling_references_raise(tmp_path: Path) -> None:
    doc = config("x", "http://127.0.0.1:1")
    doc["contexts"].append({"name": "broken", "context": {"cluster": "ghost", "user": "x"}})
    doc["clusters"].append({"name": "noserver", "cluster": {}})
    doc["contexts"].append({"name": "empty", "context": {"cluster": "noserver"}})
    kc = load(write(tmp_path / "kc", doc))
    with pytest.raises(KubeconfigError, match="cluster 'ghost' not found"):
        kc.context("broken")
    with pytest.raises(KubeconfigError, match="has no server"):
        kc.context("empty")
    with pytest.raises(KubeconfigError, match="'other' not found"):
        kc.context("other")


def test_merge_context_adds_without_touching_others(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config("prod", "https://prod:6443",
                                          user={"token": "secret"}, current="prod"))
    merge_context(path, "k8py", "http://127.0.0.1:6443", namespace="demo")
    kc = load(path)
    assert kc.current_context == "k8py"
    assert kc.context("k8py").namespace == "demo"
    assert kc.users["prod"] == {"token": "secret"}
    assert kc.context("prod").server == "https://prod:6443"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "kc"], "no temp files left"

    merge_context(path, "k8py", "http://127.0.0.1:7000", set_current=False, token="tok",
                  insecure=True, ca_data=b"pem")
    kc = load(path)
    assert kc.contexts.keys() == {"prod", "k8py"}
    assert kc.context("k8py").server == "http://127.0.0.1:7000"
    assert kc.context("k8py").token == "tok"
    assert kc.context("k8py").ca_data == b"pem"
    assert kc.context("k8py").insecure


def test_merge_context_creates_file_and_dirs(tmp_path: Path) -> None:
    path = str(tmp_path / "new" / "dir" / "config")
    merge_context(path, "k8py", "http://127.0.0.1:6443")
    kc = load(path)
    assert kc.context().name == "k8py"
    assert kc.context().namespace == "default"


def test_use_and_remove_context(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config("a", "http://127.0.0.1:1", current="a"))
    merge_context(path, "b", "http://127.0.0.1:2", set_current=False)
    use_context(path, "b")
    assert load(path).current_context == "b"
    with pytest.raises(KubeconfigError, match="not found"):
        use_context(path, "zzz")
    remove_context(path, "b")
    kc = load(path)
    assert set(kc.contexts) == {"a"} and "b" not in kc.clusters and "b" not in kc.users
    assert kc.current_context is None
    with pytest.raises(KubeconfigError, match="not found"):
        remove_context(path, "b")


def test_remove_context_keeps_cluster_still_in_use(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config("a", "http://127.0.0.1:1", current="a"))
    merge_context(path, "b", "http://127.0.0.1:2")
    data = yaml.safe_load(Path(path).read_text())
    data["contexts"].append({"name": "b-admin", "context": {"cluster": "b", "user": "a"}})
    Path(path).write_text(yaml.safe_dump(data))
    remove_context(path, "b")
    kc = load(path)
    assert "b" in kc.clusters and "b" not in kc.users


def test_render_redacts_and_minifies(tmp_path: Path) -> None:
    doc = config("a", "https://127.0.0.1:1", user={"token": "secret",
                                                     "client-key-data": "a2V5"}, current="a")
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = "Y2E="
    path = write(tmp_path / "kc", doc)
    merge_context(path, "b", "http://127.0.0.1:2", set_current=False)
    kc = load(path)
    shown = yaml.safe_load(render(kc))
    assert list(shown) == sorted(shown)
    assert shown["users"][0]["user"] == {"token": "REDACTED", "client-key-data": "DATA+OMITTED"}
    assert shown["clusters"][0]["cluster"]["certificate-authority-data"] == "DATA+OMITTED"
    assert len(shown["contexts"]) == 2
    raw = yaml.safe_load(render(kc, raw=True))
    assert raw["users"][0]["user"]["token"] == "secret"
    mini = yaml.safe_load(render(kc, minify=True))
    assert [c["name"] for c in mini["contexts"]] == ["a"]
    assert [c["name"] for c in mini["clusters"]] == ["a"]
    assert mini["current-context"] == "a"
    assert "secret" not in render(kc, minify=True, context="b")
    with pytest.raises(KubeconfigError):
        render(kc, minify=True, context="nope")
