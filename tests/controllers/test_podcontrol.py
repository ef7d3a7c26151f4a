"""The shared pod writes (controllers.podcontrol) and update routing (controllers.owners).

The workload controllers' own tests cover the happy paths through these
helpers; this file pins the options only one caller uses (DaemonSet's
pre-counted creates and terminating-namespace skip, Job's finalizer patch
before a delete) and the failure paths, so a later merge cannot lose them.
"""

from __future__ import annotations

from typing import Any

import pytest

from controllers.owners import owners_of_update
from controllers.podcontrol import create_pods, delete_pod, pod_from_template
from machinery import errors
from machinery.expectations import UIDTrackingExpectations
from machinery.informer import meta_key
from machinery.meta import deepcopy_json
from tests.controllers.fakeclient import FakeRecorder, fake_context
from tests.controllers.workloads import controller_ref, pod, replicaset

KEY = "default/web"


def _terminating() -> errors.ApiError:
    return errors.Forbidden("namespace default is being terminated",
                            causes=[{"reason": "NamespaceTerminating", "message": "",
                                     "field": "metadata.namespace"}])


async def test_create_skips_a_terminating_namespace_when_asked() -> None:
    _, client, clock = fake_context()
    [rs] = client.seed(replicaset())
    client.fail[("create", "pods")] = _terminating()
    recorder, expectations = FakeRecorder(), UIDTrackingExpectations(clock)
    expectations.set(KEY, 3, 0)  # counted by the caller, as DaemonSet does with its deletes

    made, error = await create_pods(client,  # type: ignore[arg-type]
                                    recorder,  # type: ignore[arg-type]
                                    expectations, KEY, rs, 3,
                                    lambda: pod_from_template(rs), already_expected=True,
                                    skip_terminating_namespace=True)

    assert (made, error) == (0, None)
    assert recorder.events == []
    assert len([a for a in client.actions if a.verb == "create"]) == 3  # slow start went on
    assert expectations.satisfied(KEY)


async def test_create_reports_a_terminating_namespace_by_default() -> None:
    _, client, clock = fake_context()
    [rs] = client.seed(replicaset())
    client.fail[("create", "pods")] = _terminating()
    recorder, expectations = FakeRecorder(), UIDTrackingExpectations(clock)

    made, error = await create_pods(client,  # type: ignore[arg-type]
                                    recorder,  # type: ignore[arg-type]
                                    expectations, KEY, rs, 3,
                                    lambda: pod_from_template(rs))

    assert made == 0 and isinstance(error, errors.Forbidden)
    assert [e[1] for e in recorder.events] == ["FailedCreate"]  # the first batch of one failed
    assert expectations.satisfied(KEY)


async def test_failed_delete_is_reported_and_no_longer_expected() -> None:
    _, client, clock = fake_context()
    [rs] = client.seed(replicaset())
    [victim] = client.seed(pod("web-a", owner=rs))
    client.fail[("delete", "pods")] = errors.Forbidden("no")
    recorder, expectations = FakeRecorder(), UIDTrackingExpectations(clock)
    expectations.expect_deletions_of(KEY, [meta_key(victim)])

    with pytest.raises(errors.Forbidden):
        await delete_pod(client, recorder, expectations, KEY, rs, victim)  # type: ignore[arg-type]

    assert recorder.events == [("Warning", "FailedDelete", "Error deleting: no", "web")]
    assert expectations.satisfied(KEY)


async def test_a_write_before_the_delete_fails_as_the_delete() -> None:
    _, client, clock = fake_context()
    [rs] = client.seed(replicaset())
    [victim] = client.seed(pod("web-a", owner=rs))
    recorder, expectations = FakeRecorder(), UIDTrackingExpectations(clock)
    expectations.expect_deletions_of(KEY, [meta_key(victim)])

    async def gone() -> Any:
        raise errors.NotFound("pods \"web-a\" not found")

    await delete_pod(client, recorder, expectations, KEY, rs, victim,  # type: ignore[arg-type]
                     first=gone)

    assert [a for a in client.actions if a.verb == "delete"] == []
    assert recorder.events == []
    assert expectations.satisfied(KEY)


def test_update_concerns_the_owner_left_then_the_owner_now() -> None:
    ctx, client, _ = fake_context()
    informer = ctx.informers.informer("replicasets")
    a, b = client.seed(replicaset("a"), replicaset("b"))
    old = pod("p", owner=a)
    cur = deepcopy_json(old)
    cur["metadata"]["ownerReferences"] = [controller_ref(b)]

    concerned, owner = owners_of_update(informer, "ReplicaSet", old, cur)

    assert [o["metadata"]["name"] for o in concerned] == ["a", "b"]
    assert owner is not None and owner["metadata"]["name"] == "b"


def test_update_of_a_relabelled_orphan_concerns_every_selecting_owner() -> None:
    ctx, client, _ = fake_context()
    informer = ctx.informers.informer("replicasets")
    client.seed(replicaset("web"), replicaset("db", app="db"))
    old = pod("p", app="other")
    cur = pod("p", app="db")

    concerned, owner = owners_of_update(informer, "ReplicaSet", old, cur)

    assert [o["metadata"]["name"] for o in concerned] == ["db"] and owner is None
    assert owners_of_update(informer, "ReplicaSet", cur, deepcopy_json(cur)) == ([], None)
