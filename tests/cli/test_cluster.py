"""``k8py cluster``: the decisions it takes without a cluster (images, readiness, cleanup)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli import cluster, localcluster
from cli.errors import CliError
from cli.localcluster import LocalCluster, find_repo

ROOT = Path(__file__).resolve().parent.parent.parent


def _node(name: str, ready: str) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": ready}]}}


def test_ready_nodes_counts_only_the_wanted_replicas() -> None:
    nodes = [_node("node-1", "True"), _node("node-2", "Unknown"), _node("node-3", "True"),
             _node("node-4", "True"), _node("laptop", "True")]
    assert cluster.ready_nodes(nodes, 3) == ["node-1", "node-3"]
    assert cluster.ready_nodes(nodes, 1) == ["node-1"]


class _Images(LocalCluster):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(ROOT)
        self.missing = missing
        self.built = 0

    def missing_images(self, images: tuple[str, ...] = localcluster.NODE_IMAGES) -> list[str]:
        return list(self.missing)

    def build_images(self) -> None:
        self.built += 1


@pytest.mark.parametrize("build, missing, builds", [
    (None, [], 0),                      # default: images there, nothing to do
    (None, ["k8py/pause:3.10"], 1),     # default: build what is missing
    (True, [], 1),                      # --build: let build.sh rebuild what changed
])
def test_images_are_built_only_when_missing_or_asked(build: bool | None, missing: list[str],
                                                     builds: int) -> None:
    images = _Images(missing)
    out = io.StringIO()
    cluster._ensure_images(images, build, out)
    assert images.built == builds
    assert ("Building images" in out.getvalue()) == bool(missing)


def test_no_build_refuses_missing_images() -> None:
    images = _Images(["k8py/k8py:dev"])
    with pytest.raises(CliError, match="missing images: k8py/k8py:dev"):
        cluster._ensure_images(images, False, io.StringIO())
    assert images.built == 0


def test_outside_a_checkout_the_compose_file_and_builds_are_refused() -> None:
    outside = LocalCluster(None)
    with pytest.raises(CliError, match="K8PY_ROOT"):
        outside.compose_file()
    with pytest.raises(CliError, match="outside a k8py source checkout"):
        outside.build_images()


def test_repo_found_from_the_package_or_k8py_root(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("K8PY_ROOT", raising=False)
    assert find_repo() == ROOT
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    monkeypatch.setenv("K8PY_ROOT", str(tmp_path))
    assert find_repo() == tmp_path


def test_compose_project_name_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.delenv("K8PY_COMPOSE_PROJECT", raising=False)
    assert LocalCluster.discover().project == "k8py"
    monkeypatch.setenv("K8PY_COMPOSE_PROJECT", "k8py-other")
    assert LocalCluster.discover().project == "k8py-other"


def test_service_states_from_docker_ps(monkeypatch: Any) -> None:
    rows = ("node\trunning\tUp 3 minutes (healthy)\n"
            "apiserver\trunning\tUp 3 minutes (healthy)\n"
            "node\texited\tExited (0) 5 seconds ago\n"
            "dns\trunning\tUp 2 seconds (health: starting)\n")
    seen: list[list[str]] = []

    def fake_run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, rows, "")

    monkeypatch.setattr(localcluster, "_run", fake_run)
    states = LocalCluster(ROOT, "k8py-x").services()
    assert states == {"apiserver": ["running (healthy)"],
                      "dns": ["running (health: starting)"],
                      "node": ["exited", "running (healthy)"]}
    assert "label=com.docker.compose.project=k8py-x" in seen[0]


def test_pod_data_of_the_compose_nodes_is_removed(tmp_path: Path, monkeypatch: Any) -> None:
    data = tmp_path / "kubelet"
    for node in ("node-1", "node-12", "laptop"):
        (data / node / "pods" / "uid" / "volumes").mkdir(parents=True)
        (data / node / "pods" / "uid" / "volumes" / "file").write_text("x")
    monkeypatch.setattr(localcluster, "POD_DATA", data)
    LocalCluster.remove_pod_data()
    assert [p.name for p in data.iterdir()] == ["laptop"]


def test_up_trusts_only_nodes_whose_kubelet_renewed_its_lease_since() -> None:
    """A Node left Ready in etcd by `down --keep-data` is not taken for a live one."""
    leases = [{"metadata": {"name": "node-1"}, "spec": {"renewTime": "2030-01-01T00:00:00.000000Z"}},
              {"metadata": {"name": "node-2"}, "spec": {"renewTime": "2020-01-01T00:00:00.000000Z"}},
              {"metadata": {"name": "node-3"}, "spec": {}}]
    alive = cluster._renewed_since(leases, since=1_700_000_000.0)
    assert alive == {"node-1"}
    nodes = [_node("node-1", "True"), _node("node-2", "True"), _node("node-3", "True")]
    assert cluster.ready_nodes(nodes, 3, alive) == ["node-1"]
