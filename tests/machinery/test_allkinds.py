"""AllKinds: lookups by uid and by owner uid across every kind's cache."""

from __future__ import annotations

from typing import Any

from machinery import allkinds
from machinery.allkinds import AllKinds, owner_uids, watchable
from machinery.informer import SharedInformerFactory
from machinery.resources import RESOURCES, by_kind

Obj = dict[str, Any]


def obj(api_version: str, kind: str, name: str, *owners: str, ns: str | None = "ns") -> Obj:
    meta: Obj = {"name": name, "uid": f"uid-{name}",
                 "ownerReferences": [{"uid": f"uid-{o}", "name": o} for o in owners]}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def kinds() -> AllKinds:
    factory = SharedInformerFactory(None)  # type: ignore[arg-type]
    factory.client = object()  # type: ignore[assignment]  # never started: no calls made
    return AllKinds(factory)


def add(all_kinds: AllKinds, *objs: Obj) -> None:
    for o in objs:
        resource = by_kind(o["apiVersion"], o["kind"])
        assert resource is not None
        all_kinds.by_resource[resource].apply({"type": "ADDED", "object": o})


def test_exported_members() -> None:
    for name in allkinds.__all__:
        assert hasattr(allkinds, name), name


def test_every_kind_gets_an_informer() -> None:
    assert set(kinds().by_resource) == set(watchable(RESOURCES)) == set(RESOURCES)


def test_find_and_dependents_across_kinds() -> None:
    k = kinds()
    add(k, obj("apps/v1", "ReplicaSet", "rs"), obj("v1", "Pod", "p1", "rs"),
        obj("v1", "ConfigMap", "cm", "rs", "p1"), obj("v1", "Node", "n", ns=None))

    found = k.find("uid-p1")
    assert found is not None and found.resource.kind == "Pod"
    assert k.find("uid-nothing") is None
    assert sorted(f.obj["metadata"]["name"] for f in k.dependents("uid-rs")) == ["cm", "p1"]
    assert [f.resource.kind for f in k.dependents("uid-p1")] == ["ConfigMap"]
    pods = by_kind("v1", "Pod")
    assert pods is not None and k.find_in(pods, "uid-cm") is None
    assert owner_uids(obj("v1", "Pod", "x", "a", "b")) == ["uid-a", "uid-b"]


def test_shared_informers_keep_one_index() -> None:
    factory = SharedInformerFactory(None)  # type: ignore[arg-type]
    factory.client = object()  # type: ignore[assignment]
    first = AllKinds(factory)
    second = AllKinds(factory)
    assert first.informers == second.informers
