"""PersistentVolumeController: binding, local-path provisioning and reclaiming, on the fake client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controllers.persistentvolume import PersistentVolumeController
from controllers.persistentvolume.controller import default_storage_class
from tests.controllers.fakeclient import FakeClient, fake_context

Obj = dict[str, Any]
CLAIM = "claim:default/data"


@pytest.fixture
def env(tmp_path: Path) -> tuple[PersistentVolumeController, FakeClient, Any, Path]:
    root = tmp_path / "volumes"
    ctx, client, _ = fake_context(volume_root=str(root))
    return PersistentVolumeController(ctx), client, ctx, root


def claim(name: str = "data", size: str = "1Gi", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}, **spec},
            "status": {"phase": "Pending"}}


def volume(name: str, size: str, path: str = "/srv/data", policy: str = "Retain",
           **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": path}, "persistentVolumeReclaimPolicy": policy,
                     **spec},
            "status": {"phase": "Available"}}


def events(ctx: Any) -> list[tuple[str, str]]:
    return [(e[1], e[3]) for e in ctx.events.recorders["persistentvolume-controller"].events]


async def settle(controller: PersistentVolumeController, *keys: str, rounds: int = 3) -> None:
    for _ in range(rounds):
        for key in keys:
            await controller.reconcile(key)


def get(client: FakeClient, resource: str, name: str) -> Obj:
    found = client.stored(resource, name, "default")
    assert found is not None, name
    return found


async def test_the_default_storage_class_is_ensured_once(env: Any) -> None:
    controller, client, _, _ = env

    await controller.reconcile("storageclass:standard")
    await controller.reconcile("storageclass:standard")

    made = [a for a in client.writes() if a.resource == "storageclasses.storage.k8s.io"]
    assert len(made) == 1
    sc = get(client, "storageclasses", "standard")
    assert sc["provisioner"] == "k8py.io/local-path" and sc["reclaimPolicy"] == "Delete"
    assert sc["volumeBindingMode"] == "Immediate"
    assert sc["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"}


async def test_a_claim_binds_the_smallest_fitting_volume_both_ways(env: Any) -> None:
    controller, client, _, _ = env
    client.seed(volume("big", "10Gi"), volume("small", "2Gi"), volume("tiny", "500Mi"),
                volume("readonly", "1Gi", accessModes=["ReadOnlyMany"]),
                claim(storageClassName=""))

    await settle(controller, CLAIM, "volume:small", "volume:big")

    pv, pvc = get(client, "persistentvolumes", "small"), get(client, "persistentvolumeclaims",
                                                             "data")
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["status"]["phase"] == "Bound" and "lastPhaseTransitionTime" in pv["status"]
    assert pvc["spec"]["volumeName"] == "small"
    assert pvc["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                              "pv.kubernetes.io/bound-by-controller": "yes"}
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                             "capacity": {"storage": "2Gi"}}
    assert get(client, "persistentvolumes", "big")["status"]["phase"] == "Available"


async def test_a_settled_binding_writes_nothing(env: Any) -> None:
    controller, client, _, _ = env
    client.seed(volume("small", "2Gi"), claim(storageClassName=""))
    await settle(controller, CLAIM, "volume:small")
    before = len(client.writes())

    await settle(controller, CLAIM, "volume:small")

    assert len(client.writes()) == before


async def test_selector_and_class_are_respected(env: Any) -> None:
    controller, client, ctx, _ = env
    client.seed(volume("fast", "5Gi", storageClassName="fast"),
                volume("labelled", "5Gi", storageClassName="fast"),
                claim(storageClassName="fast", selector={"matchLabels": {"tier": "gold"}}))
    labelled = get(client, "persistentvolumes", "labelled")
    labelled["metadata"]["labels"] = {"tier": "gold"}
    await client.update("persistentvolumes", labelled)

    await controller.reconcile(CLAIM)

    assert get(client, "persistentvolumeclaims", "data")["spec"]["volumeName"] == "labelled"
    assert not events(ctx)


async def test_no_volume_and_no_class_leaves_the_claim_pending(env: Any) -> None:
    controller, client, ctx, _ = env
    client.seed(volume("small", "500Mi"), claim(storageClassName=""))

    await controller.reconcile(CLAIM)

    assert get(client, "persistentvolumeclaims", "data")["status"]["phase"] == "Pending"
    assert events(ctx) == [("FailedBinding", "data")]


async def test_a_claim_of_the_default_class_is_provisioned_under_the_root(env: Any) -> None:
    controller, client, ctx, root = env
    client.seed(default_storage_class(), claim())  # no class: the default one
    uid = get(client, "persistentvolumeclaims", "data")["metadata"]["uid"]

    await controller.reconcile(CLAIM)

    name = f"pvc-{uid}"
    pv = get(client, "persistentvolumes", name)
    assert pv["spec"]["hostPath"] == {"path": str(root / name), "type": "DirectoryOrCreate"}
    assert (root / name).is_dir()
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["storageClassName"] == "standard"
    assert pv["spec"]["claimRef"]["uid"] == uid
    assert pv["metadata"]["annotations"] == {"pv.kubernetes.io/provisioned-by":
                                             "k8py.io/local-path"}
    assert events(ctx) == [("ProvisioningSucceeded", "data")]

    await settle(controller, CLAIM, f"volume:{name}")

    assert get(client, "persistentvolumeclaims", "data")["status"]["phase"] == "Bound"
    assert get(client, "persistentvolumes", name)["status"]["phase"] == "Bound"


async def test_delete_policy_removes_folder_and_volume_when_the_claim_goes(env: Any) -> None:
    controller, client, _, root = env
    client.seed(default_storage_class(), claim())
    await controller.reconcile(CLAIM)
    [name] = [p.name for p in root.iterdir()]
    await settle(controller, CLAIM, f"volume:{name}")
    (root / name / "index.html").write_text("web-0")

    await client.delete("persistentvolumeclaims", "data", "default")
    await controller.reconcile(f"volume:{name}")

    assert not (root / name).exists()
    assert client.stored("persistentvolumes", name) is None


async def test_retain_policy_keeps_a_released_volume_and_its_data(env: Any, tmp_path: Path) -> None:
    controller, client, _, _ = env
    data = tmp_path / "kept"
    data.mkdir()
    client.seed(volume("keep", "1Gi", path=str(data)), claim(storageClassName=""))
    await settle(controller, CLAIM, "volume:keep")

    await client.delete("persistentvolumeclaims", "data", "default")
    await controller.reconcile("volume:keep")

    pv = get(client, "persistentvolumes", "keep")
    assert pv["status"]["phase"] == "Released" and data.is_dir()
    await controller.reconcile("volume:keep")
    assert get(client, "persistentvolumes", "keep")["status"]["phase"] == "Released"


async def test_delete_policy_never_touches_folders_outside_the_root(env: Any,
                                                                  tmp_path: Path) -> None:
    controller, client, ctx, _ = env
    data = tmp_path / "precious"
    data.mkdir()
    client.seed(volume("static", "1Gi", path=str(data), policy="Delete"),
                claim(storageClassName=""))
    await settle(controller, CLAIM, "volume:static")

    await client.delete("persistentvolumeclaims", "data", "default")
    await controller.reconcile("volume:static")

    pv = get(client, "persistentvolumes", "static")
    assert pv["status"]["phase"] == "Failed" and data.is_dir()
    assert ("VolumeFailedDelete", "static") in events(ctx)


async def test_a_claim_whose_volume_vanished_is_lost(env: Any) -> None:
    controller, client, ctx, _ = env
    client.seed(volume("small", "2Gi"), claim(storageClassName=""))
    await settle(controller, CLAIM, "volume:small")

    await client.delete("persistentvolumes", "small")
    await controller.reconcile(CLAIM)

    assert get(client, "persistentvolumeclaims", "data")["status"]["phase"] == "Lost"
    assert ("ClaimLost", "data") in events(ctx)


async def test_a_claim_missing_from_the_cache_is_checked_live_before_release(env: Any) -> None:
    controller, client, _, _ = env
    client.seed(volume("small", "2Gi"), claim(storageClassName=""))
    await settle(controller, CLAIM, "volume:small")
    controller.claims.indexer.delete("default/data")  # the cache lags behind

    await controller.reconcile("volume:small")

    assert get(client, "persistentvolumes", "small")["status"]["phase"] == "Bound"


async def test_a_claim_naming_its_volume_gets_exactly_that_one(env: Any) -> None:
    controller, client, _, _ = env
    client.seed(volume("a", "1Gi"), volume("b", "5Gi"),
                claim(storageClassName="", volumeName="b"))

    await settle(controller, CLAIM, "volume:b")

    pv = get(client, "persistentvolumes", "b")
    assert pv["status"]["phase"] == "Bound"
    # The user chose the volume; the controller only tied the volume's side.
    assert get(client, "persistentvolumeclaims", "data")["metadata"]["annotations"] == {
        "pv.kubernetes.io/bind-completed": "yes"}
    assert pv["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert get(client, "persistentvolumes", "a").get("spec", {}).get("claimRef") is None
