"""Volume folders: atomic projections, kinds, hostPath checks, kubelet-managed files."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kubelet.env import ConfigError
from kubelet.projection import FileSpec, write_payload
from kubelet.volumes import MountError, VolumeManager, check_host_path
from tests.kubelet.fakes import FakeClock, FakeObjects, FakeRuntime

Obj = dict[str, Any]


def test_payload_swaps_atomically_and_drops_stale_keys(tmp_path: Path) -> None:
    folder = tmp_path / "vol"
    assert write_payload(folder, {"a": FileSpec(b"1", 0o644), "dir/b": FileSpec(b"2", 0o600)})
    assert (folder / "a").read_text() == "1" and os.readlink(folder / "a") == "..data/a"
    assert (folder / "dir" / "b").read_text() == "2"
    assert oct((folder / "dir" / "b").stat().st_mode & 0o777) == "0o600"
    first = os.readlink(folder / "..data")
    assert not write_payload(folder, {"a": FileSpec(b"1", 0o644),
                                      "dir/b": FileSpec(b"2", 0o600)})  # unchanged: no-op
    assert write_payload(folder, {"a": FileSpec(b"3", 0o644)})
    assert (folder / "a").read_text() == "3"
    assert not (folder / "dir").exists() and not (folder / first).exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("..")) == ["a"]


@pytest.fixture
def manager(tmp_path: Path) -> tuple[VolumeManager, FakeObjects, FakeRuntime]:
    objects = FakeObjects()
    runtime = FakeRuntime(FakeClock())
    return (VolumeManager(runtime, objects, str(tmp_path), "192.0.2.1",  # type: ignore[arg-type]
                          lambda: {"cpu": "2", "memory": "1Gi"}), objects, runtime)


def pod(volumes: list[Obj]) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"a": "b"}},
            "spec": {"volumes": volumes,
                     "containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}


async def test_all_volume_kinds(manager: tuple[VolumeManager, FakeObjects, FakeRuntime],
                                tmp_path: Path) -> None:
    volumes, objects, runtime = manager
    objects.add("configmaps", "ns", "cm", data={"k1": "v1", "k2": "v2"})
    objects.add("secrets", "ns", "s", data={"pw": base64.b64encode(b"x").decode()})
    host = tmp_path / "host"
    host.mkdir()
    sources = await volumes.prepare(pod([
        {"name": "scratch", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "cm", "configMap": {"name": "cm", "items": [{"key": "k2", "path": "two",
                                                               "mode": 0o600}]}},
        {"name": "sec", "secret": {"secretName": "s"}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "c",
                                                 "resource": "limits.cpu"}}]}},
        {"name": "all", "projected": {"sources": [{"configMap": {"name": "cm"}},
                                                  {"secret": {"name": "s"}}]}},
        {"name": "host", "hostPath": {"path": str(host), "type": "Directory"}},
    ]))
    base = tmp_path / "pods" / "u1" / "volumes"
    assert sources["scratch"].source == str(base / "kubernetes.io~empty-dir" / "scratch")
    assert oct(os.stat(sources["scratch"].source).st_mode & 0o777) == "0o777"
    assert sources["mem"].type == "volume" and runtime.volumes == {"k8py-u1-mem":
                                                                  {"io.k8py.pod-uid": "u1"}}
    cm = Path(sources["cm"].source)
    assert sources["cm"].read_only and (cm / "two").read_text() == "v2" and not (cm / "k1").exists()
    assert (Path(sources["sec"].source) / "pw").read_text() == "x"
    info = Path(sources["info"].source)
    assert (info / "labels").read_text() == 'a="b"' and (info / "cpu").read_text() == "1"
    assert sorted(p.name for p in Path(sources["all"].source).iterdir()
                  if not p.name.startswith("..")) == ["k1", "k2", "pw"]
    assert sources["host"].source == str(host) and not sources["host"].read_only
    await volumes.cleanup("u1")
    assert not (tmp_path / "pods" / "u1").exists() and runtime.volumes == {}


async def test_missing_objects_fail_the_mount_unless_optional(
        manager: tuple[VolumeManager, FakeObjects, FakeRuntime]) -> None:
    volumes, _, _ = manager
    with pytest.raises(MountError, match='volume "cm" : configmap "absent" not found'):
        await volumes.prepare(pod([{"name": "cm", "configMap": {"name": "absent"}}]))
    sources = await volumes.prepare(pod([{"name": "cm", "configMap": {"name": "absent",
                                                                      "optional": True}}]))
    assert [name for name in os.listdir(sources["cm"].source) if not name.startswith("..")] == []
    with pytest.raises(MountError, match="unsupported volume type"):
        await volumes.prepare(pod([{"name": "nfs", "nfs": {"server": "x", "path": "/"}}]))


def test_host_path_types(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "new" / "dir"), "DirectoryOrCreate")
    assert (tmp_path / "new" / "dir").is_dir()
    check_host_path(str(tmp_path / "other" / "file"), "FileOrCreate")
    assert (tmp_path / "other" / "file").is_file()
    check_host_path(str(tmp_path / "anything"), "")
    with pytest.raises(ConfigError, match="is not a directory"):
        check_host_path(str(tmp_path / "other" / "file"), "Directory")
    with pytest.raises(ConfigError, match="is not a file"):
        check_host_path(str(tmp_path / "missing"), "File")
    with pytest.raises(ConfigError, match="is not a socket"):
        check_host_path(str(tmp_path), "Socket")


def test_pod_files_and_termination_logs(
        manager: tuple[VolumeManager, FakeObjects, FakeRuntime], tmp_path: Path) -> None:
    volumes, _, _ = manager
    path = volumes.pod_file("u1", "etc-hosts", "127.0.0.1\tlocalhost\n")
    assert Path(path).read_text() == "127.0.0.1\tlocalhost\n"
    log = volumes.termination_log("u1", "c", 3)
    assert Path(log).read_bytes() == b"" and oct(os.stat(log).st_mode & 0o777) == "0o666"
    Path(log).write_text("bye")
    assert volumes.read_termination_log("u1", "c", 3) == "bye"
    assert volumes.read_termination_log("u1", "c", 4) == ""
    assert volumes.known_pod_dirs() == ["u1"]
