"""CacheView: rebuilt once per observed burst of changes, never for resyncs."""

from __future__ import annotations

from machinery.cacheview import CacheView
from machinery.informer import Informer
from machinery.watch import WatchEvent


def pod(name: str, rv: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


def event(kind: str, obj: dict[str, object]) -> WatchEvent:
    return {"type": kind, "object": obj}  # type: ignore[typeddict-item]


def test_rebuilds_lazily_after_changes_only() -> None:
    informer = Informer(None, "pods", lister_watcher=object())  # type: ignore[arg-type]
    view = CacheView([informer], lambda: sorted(p["metadata"]["name"] for p in informer.list()))
    assert view.get() == [] and view.builds == 1
    informer.replace([pod("a", "1")], "1")
    informer.apply(event("ADDED", pod("b", "2")))
    assert view.builds == 1  # nothing is built until someone reads
    assert view.get() == ["a", "b"] and view.builds == 2
    assert view.get() == ["a", "b"] and view.builds == 2
    cached = informer.get("ns/a")
    assert cached is not None
    informer._notify_update(cached, cached)  # a periodic resync redelivers the same object
    assert view.get() == ["a", "b"] and view.builds == 2
    informer.apply(event("DELETED", pod("a", "3")))
    assert view.get() == ["b"] and view.builds == 3
