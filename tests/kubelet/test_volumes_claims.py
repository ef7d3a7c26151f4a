"""persistentVolumeClaim volumes: the pod waits for a bound claim, then mounts its volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelet.volumes import MountError, VolumeManager, VolumeSource
from tests.kubelet.fakes import FakeClock, FakeObjects, FakeRuntime

Obj = dict[str, Any]


@pytest.fixture
def manager(tmp_path: Path) -> tuple[VolumeManager, FakeObjects]:
    objects = FakeObjects()
    runtime = FakeRuntime(FakeClock())
    return VolumeManager(runtime, objects, str(tmp_path / "root"), "192.0.2.1",  # type: ignore[arg-type]
                         lambda: {}), objects


def pod(read_only: bool = False) -> Obj:
    return {"metadata": {"name": "web-0", "namespace": "ns", "uid": "u1"},
            "spec": {"volumes": [{"name": "www", "persistentVolumeClaim": {
                "claimName": "www-web-0", "readOnly": read_only}}],
                "containers": [{"name": "c"}]}}


def bound_claim(objects: FakeObjects, host: Path, **meta: Any) -> None:
    objects.add("persistentvolumeclaims", "ns", "www-web-0",
                metadata={"name": "www-web-0", **meta}, spec={"volumeName": "pv-1"},
                status={"phase": "Bound"})
    objects.add("persistentvolumes", "", "pv-1",
                spec={"hostPath": {"path": str(host), "type": "DirectoryOrCreate"}})


async def test_a_missing_or_unbound_claim_fails_the_mount(
        manager: tuple[VolumeManager, FakeObjects]) -> None:
    volumes, objects = manager
    with pytest.raises(MountError, match='persistentvolumeclaims "www-web-0" not found'):
        await volumes.prepare(pod())
    objects.add("persistentvolumeclaims", "ns", "www-web-0", spec={},
                status={"phase": "Pending"})
    with pytest.raises(MountError, match="PVC is not bound"):
        await volumes.prepare(pod())


async def test_a_bound_claim_mounts_its_volume_folder(
        manager: tuple[VolumeManager, FakeObjects], tmp_path: Path) -> None:
    volumes, objects = manager
    host = tmp_path / "volumes" / "pv-1"
    bound_claim(objects, host)

    sources = await volumes.prepare(pod(read_only=True))

    assert sources == {"www": VolumeSource("bind", str(host), True, True)}
    assert host.is_dir()  # DirectoryOrCreate


async def test_a_claim_being_deleted_blocks_new_pods_but_not_mounted_ones(
        manager: tuple[VolumeManager, FakeObjects], tmp_path: Path) -> None:
    volumes, objects = manager
    host = tmp_path / "volumes" / "pv-1"
    bound_claim(objects, host)
    await volumes.prepare(pod())
    bound_claim(objects, host, deletionTimestamp="2024-01-01T00:00:00Z")

    assert (await volumes.prepare(pod()))["www"].source == str(host)
    await volumes.cleanup("u1")
    with pytest.raises(MountError, match="is being deleted"):
        await volumes.prepare(pod())


async def test_only_host_folders_can_back_a_claim(
        manager: tuple[VolumeManager, FakeObjects]) -> None:
    volumes, objects = manager
    objects.add("persistentvolumeclaims", "ns", "www-web-0", spec={"volumeName": "nfs-1"},
                status={"phase": "Bound"})
    objects.add("persistentvolumes", "", "nfs-1", spec={"nfs": {"server": "x", "path": "/"}})

    with pytest.raises(MountError, match="not a hostPath or local volume"):
        await volumes.prepare(pod())
