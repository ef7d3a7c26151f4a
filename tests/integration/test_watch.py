"""Watch semantics on a real etcd: replay, resume, bookmarks, 410, two API servers, restart."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.conftest import ApiServerProcess

pytestmark = pytest.mark.integration


def collect(url: str, params: dict, count: int, timeout: float = 10.0) -> list[dict]:
    """Read ``count`` watch events (or until timeout)."""
    events: list[dict] = []
    with httpx.stream("GET", url, params={**params, "watch": "true"}, timeout=timeout) as r:
        assert r.status_code == 200
        deadline = time.monotonic() + timeout
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))
            if len(events) >= count or time.monotonic() > deadline:
                break
    return events


def test_watch_replays_from_list_rv(apiserver, namespace):
    base = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
    rv = httpx.get(base).json()["metadata"]["resourceVersion"]
    httpx.post(base, json={"metadata": {"name": "w"}, "data": {"a": "1"}})
    httpx.patch(f"{base}/w", json={"data": {"a": "2"}}, headers={"Content-Type": "application/merge-patch+json"})
    httpx.delete(f"{base}/w")
    events = collect(base, {"resourceVersion": rv}, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["data"] == {"a": "2"}
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs)


def test_watch_live_and_label_filter(apiserver, namespace):
    base = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
    got: list[dict] = []

    def watch() -> None:
        got.extend(collect(base, {"labelSelector": "k=v"}, 2, timeout=10))

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.5)
    httpx.post(base, json={"metadata": {"name": "no"}})
    httpx.post(base, json={"metadata": {"name": "yes", "labels": {"k": "v"}}})
    # Moving out of the selector is a DELETED for this watcher.
    httpx.patch(f"{base}/yes", json={"metadata": {"labels": {"k": "x"}}},
                headers={"Content-Type": "application/merge-patch+json"})
    t.join(15)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "yes"), ("DELETED", "yes")]


def test_bookmarks(apiserver, namespace):
    base = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
    rv = httpx.get(base).json()["metadata"]["resourceVersion"]
    events = collect(base, {"resourceVersion": rv, "allowWatchBookmarks": "true"}, 1, timeout=5)
    assert events and events[0]["type"] == "BOOKMARK"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_compacted_rv_is_410(etcd, namespace):
    compacting = ApiServerProcess(etcd.url, extra=["--etcd-compaction-interval", "0.5"])
    compacting.start()
    try:
        base = f"{compacting.url}/api/v1/namespaces/{namespace}/configmaps"
        first = httpx.post(base, json={"metadata": {"name": "c"}}).json()["metadata"]["resourceVersion"]
        for i in range(3):
            httpx.patch(f"{base}/c", json={"data": {"i": str(i)}},
                        headers={"Content-Type": "application/merge-patch+json"})
        time.sleep(1.6)  # two compactions: history before them is gone from etcd
        # A server started now has nothing older in its watch cache, so it must ask etcd.
        fresh = ApiServerProcess(etcd.url)
        fresh.start()
        try:
            events = collect(f"{fresh.url}/api/v1/namespaces/{namespace}/configmaps",
                             {"resourceVersion": str(int(first) - 1)}, 1, timeout=5)
        finally:
            fresh.stop()
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    finally:
        compacting.stop()


def test_two_servers_share_state_and_watches(etcd, apiserver, namespace):
    second = ApiServerProcess(etcd.url)
    second.start()
    try:
        base1 = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
        base2 = f"{second.url}/api/v1/namespaces/{namespace}/configmaps"
        rv = httpx.get(base2).json()["metadata"]["resourceVersion"]
        httpx.post(base1, json={"metadata": {"name": "shared"}})
        assert httpx.get(f"{base2}/shared").status_code == 200
        e1 = collect(base1, {"resourceVersion": rv}, 1)
        e2 = collect(base2, {"resourceVersion": rv}, 1)
        assert e1[0]["object"]["metadata"]["uid"] == e2[0]["object"]["metadata"]["uid"]
    finally:
        second.stop()


def test_killed_server_loses_nothing(etcd, namespace):
    server = ApiServerProcess(etcd.url)
    server.start()
    base = f"{server.url}/api/v1/namespaces/{namespace}/configmaps"
    rv = httpx.get(base).json()["metadata"]["resourceVersion"]
    for i in range(5):
        assert httpx.post(base, json={"metadata": {"name": f"k{i}"}}).status_code == 201
    server.kill()
    again = ApiServerProcess(etcd.url, port=server.port)
    again.start()
    try:
        items = httpx.get(base).json()["items"]
        assert sorted(o["metadata"]["name"] for o in items) == [f"k{i}" for i in range(5)]
        # A watch resumed from before the restart replays what happened.
        events = collect(base, {"resourceVersion": rv}, 5)
        assert [e["object"]["metadata"]["name"] for e in events] == [f"k{i}" for i in range(5)]
    finally:
        again.stop()
