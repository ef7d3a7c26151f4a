"""Leader election over a Lease on a fake clock and an in-memory API server."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from tests.machinery.client_fakeapi import FakeApiServer

from machinery import errors, leaderelection
from machinery.client import ApiClient
from machinery.leaderelection import LeaderElector
from machinery.resources import lookup
from machinery.workqueue import FakeClock

LEASES = lookup("leases")
assert LEASES is not None
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def elector(api: ApiClient, clock: FakeClock, identity: str) -> LeaderElector:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    return LeaderElector(api, lock_name="kube-scheduler", identity=identity, clock=clock,
                         wall=lambda: start + timedelta(seconds=clock.now()), rand=lambda: 0.0)


def lease_spec(server: FakeApiServer) -> dict:
    return server.table(LEASES)[("kube-system", "kube-scheduler")]["spec"]


class Leading:
    """A leading coroutine that records its life and can be told to finish."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0
        self.finish = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self) -> None:
        self.started += 1
        try:
            await self.finish.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail is not None:
            raise self.fail


def test_exports_exist() -> None:
    for name in leaderelection.__all__:
        assert hasattr(leaderelection, name), name


@pytest.mark.parametrize("kwargs, message", [
    ({"lease_duration": 10, "renew_deadline": 10}, "lease_duration must be greater"),
    ({"renew_deadline": 2.4, "retry_period": 2}, "renew_deadline must be greater"),
    ({"lease_duration": 15, "renew_deadline": 10, "retry_period": 0}, "positive"),
    ({"identity": ""}, "identity"),
])
def test_timings_are_validated(api: ApiClient, kwargs: dict, message: str) -> None:
    args = {"lock_name": "l", "identity": "me", **kwargs}
    with pytest.raises(ValueError, match=message):
        LeaderElector(api, **args)


async def test_creates_lease_and_leads(api: ApiClient, server: FakeApiServer,
                                       clock: FakeClock) -> None:
    me = elector(api, clock, "node-a")
    leading = Leading()
    stopped: list[bool] = []
    run = asyncio.create_task(me.run(leading, lambda: stopped.append(True)))
    await clock.advance(0)
    assert me.is_leader() and leading.started == 1
    spec = lease_spec(server)
    assert spec["holderIdentity"] == "node-a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert MICRO.match(spec["acquireTime"]) and spec["acquireTime"] == spec["renewTime"]
    first_renew = spec["renewTime"]
    await clock.advance(2)
    assert lease_spec(server)["renewTime"] > first_renew
    assert lease_spec(server)["acquireTime"] == spec["acquireTime"]
    assert me.holder == "node-a"

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert leading.cancelled == 1 and stopped == [True] and not me.is_leader()
    released = lease_spec(server)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1


async def test_standby_takes_over_at_once_after_release(api: ApiClient, server: FakeApiServer,
                                                         clock: FakeClock) -> None:
    a, b = elector(api, clock, "a"), elector(api, clock, "b")
    lead_a, lead_b = Leading(), Leading()
    run_a = asyncio.create_task(a.run(lead_a))
    await clock.advance(0)
    run_b = asyncio.create_task(b.run(lead_b))
    await clock.advance(30)
    assert a.is_leader() and not b.is_leader() and b.holder == "a"
    lead_a.finish.set()  # a's work is done: it returns and releases
    await asyncio.wait_for(run_a, 1)
    assert lease_spec(server)["holderIdentity"] == ""
    await clock.advance(2)
    assert b.is_leader() and lead_b.started == 1
    assert lease_spec(server)["holderIdentity"] == "b"
    assert lease_spec(server)["leaseTransitions"] == 1
    run_b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_b


async def test_candidate_waits_out_a_dead_leader(api: ApiClient, server: FakeApiServer,
                                                 clock: FakeClock) -> None:
    server.put(LEASES, {"metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
                        "spec": {"holderIdentity": "dead", "leaseDurationSeconds": 15,
                                 "leaseTransitions": 3,
                                 "renewTime": "2020-01-01T00:00:00.000000Z"}})
    me = elector(api, clock, "me")
    run = asyncio.create_task(me.run(Leading()))
    await clock.advance(14)
    assert not me.is_leader(), "an old renewTime must not count: only our own observation does"
    await clock.advance(4)
    assert me.is_leader()
    assert lease_spec(server)["leaseTransitions"] == 4
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_lost_renewal_cancels_leading_without_release(api: ApiClient,
                                                            server: FakeApiServer,
                                                            clock: FakeClock) -> None:
    me = elector(api, clock, "me")
    releases: list[bool] = []

    async def spy_release() -> bool:
        releases.append(True)
        return False

    me.release = spy_release  # type: ignore[method-assign]
    leading = Leading()
    stopped: list[bool] = []
    run = asyncio.create_task(me.run(leading, lambda: stopped.append(True)))
    await clock.advance(0)
    assert me.is_leader()
    server.fail.append(lambda r: httpx.Response(
        503, json=errors.ServiceUnavailable("etcd down").to_status()))
    await clock.advance(2 + 8)
    assert me.is_leader(), "still within renew_deadline"
    await clock.advance(2)
    await asyncio.wait_for(run, 1)
    assert not me.is_leader() and leading.cancelled == 1 and stopped == [True]
    server.fail.clear()
    assert releases == [], "a lost leader must not touch the lease any more"
    assert lease_spec(server)["holderIdentity"] == "me"


async def test_renewal_recovers_within_deadline(api: ApiClient, server: FakeApiServer,
                                                clock: FakeClock) -> None:
    me = elector(api, clock, "me")
    run = asyncio.create_task(me.run(Leading()))
    await clock.advance(0)
    server.fail.append(lambda r: httpx.Response(500))
    await clock.advance(6)
    server.fail.clear()
    await clock.advance(2)
    assert me.is_leader()
    await clock.advance(20)
    assert me.is_leader()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_conflict_means_lost_race(api: ApiClient, server: FakeApiServer,
                                        clock: FakeClock) -> None:
    server.put(LEASES, {"metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
                        "spec": {"holderIdentity": ""}})
    server.fail.append(lambda r: httpx.Response(409, json=errors.Conflict("modified").to_status())
                       if r.method == "PUT" else None)
    me = elector(api, clock, "me")
    assert await me.try_acquire_or_renew() is False
    server.fail.clear()
    assert await me.try_acquire_or_renew() is True
    assert lease_spec(server)["holderIdentity"] == "me"


async def test_create_race_is_lost_quietly(api: ApiClient, server: FakeApiServer,
                                           clock: FakeClock) -> None:
    server.fail.append(lambda r: httpx.Response(
        409, json=errors.AlreadyExists("exists").to_status()) if r.method == "POST" else None)
    assert await elector(api, clock, "me").try_acquire_or_renew() is False


async def test_leading_failure_propagates_and_releases(api: ApiClient, server: FakeApiServer,
                                                       clock: FakeClock) -> None:
    me = elector(api, clock, "me")
    leading = Leading()
    leading.fail = RuntimeError("controller crashed")
    run = asyncio.create_task(me.run(leading))
    await clock.advance(0)
    leading.finish.set()
    with pytest.raises(RuntimeError, match="crashed"):
        await asyncio.wait_for(run, 1)
    assert lease_spec(server)["holderIdentity"] == ""


async def test_release_is_a_no_op_when_not_holder(api: ApiClient, server: FakeApiServer,
                                                  clock: FakeClock) -> None:
    server.put(LEASES, {"metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
                        "spec": {"holderIdentity": "other"}})
    assert await elector(api, clock, "me").release() is False
    assert lease_spec(server)["holderIdentity"] == "other"
