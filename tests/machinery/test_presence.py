"""Presence Leases: kube-proxy announces itself on a node, the kubelet judges it live or not."""

from __future__ import annotations

import asyncio

import pytest
from tests.machinery.client_fakeapi import FakeApiServer

from machinery.client import ApiClient
from machinery.presence import PRESENCE_NAMESPACE, PresenceAnnouncer, PresenceObserver
from machinery.resources import lookup

LEASES = lookup("leases")
assert LEASES is not None


def stored(server: FakeApiServer) -> dict:
    return server.table(LEASES)[(PRESENCE_NAMESPACE, "kube-proxy-node-1")]


def lease(holder: str, renew: str, duration: int = 40) -> dict:
    return {"metadata": {"name": "kube-proxy-node-1", "namespace": PRESENCE_NAMESPACE},
            "spec": {"holderIdentity": holder, "renewTime": renew,
                     "leaseDurationSeconds": duration}}


async def test_announcer_creates_renews_and_releases(api: ApiClient,
                                                     server: FakeApiServer) -> None:
    announcer = PresenceAnnouncer(api, "kube-proxy", "node-1", duration=30, period=0.01)
    await announcer.renew()
    spec = stored(server)["spec"]
    assert spec["holderIdentity"] == "kube-proxy-node-1" and spec["leaseDurationSeconds"] == 30
    version = stored(server)["metadata"]["resourceVersion"]
    await announcer.renew()
    assert stored(server)["metadata"]["resourceVersion"] != version
    task = asyncio.ensure_future(announcer.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stored(server)["spec"]["holderIdentity"] == ""


async def test_announcer_adopts_an_existing_lease(api: ApiClient, server: FakeApiServer) -> None:
    server.put(LEASES, lease("", "2026-01-01T00:00:00.000000Z"))
    await PresenceAnnouncer(api, "kube-proxy", "node-1").renew()
    assert stored(server)["spec"]["holderIdentity"] == "kube-proxy-node-1"


async def test_observer_counts_renewals_by_its_own_clock(api: ApiClient) -> None:
    now = [1000.0]
    observer = PresenceObserver(api, "kube-proxy", "node-1", clock=lambda: now[0])
    assert not observer.present()
    observer.observe(lease("kube-proxy-node-1", "2020-01-01T00:00:00.000000Z", 40))
    assert observer.present()  # an old timestamp from another clock does not matter
    now[0] += 39
    assert observer.present()
    observer.observe(lease("kube-proxy-node-1", "2020-01-01T00:00:00.000000Z", 40))
    now[0] += 2
    assert not observer.present()  # no renewal seen for 41 s: a crashed kube-proxy
    observer.observe(lease("kube-proxy-node-1", "2020-01-01T00:00:10.000000Z", 40))
    assert observer.present()
    observer.observe(lease("", "2020-01-01T00:00:11.000000Z", 40))
    assert not observer.present()  # released on a clean stop


async def test_observer_ignores_other_leases_and_forgets_a_deleted_one(api: ApiClient) -> None:
    observer = PresenceObserver(api, "kube-proxy", "node-1", clock=lambda: 0.0)
    other = lease("kube-proxy-node-2", "x")
    other["metadata"]["name"] = "kube-proxy-node-2"
    observer.observe(other)
    assert not observer.present()
    mine = lease("kube-proxy-node-1", "x")
    observer.observe(mine)
    assert observer.present()
    observer._deleted(mine)
    assert not observer.present()


async def test_observer_follows_the_api(api: ApiClient, server: FakeApiServer) -> None:
    observer = PresenceObserver(api, "kube-proxy", "node-1")
    await observer.start()
    try:
        assert await observer.wait_for_sync(5)
        assert not observer.present()
        await PresenceAnnouncer(api, "kube-proxy", "node-1").renew()
        for _ in range(100):
            if observer.present():
                break
            await asyncio.sleep(0.01)
        assert observer.present()
    finally:
        await observer.stop()
