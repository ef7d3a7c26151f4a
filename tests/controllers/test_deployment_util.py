"""The arithmetic behind rollouts: bounds, hashes, revisions, conditions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from controllers.deployment import util
from tests.controllers.workloads import deployment, replicaset, template


def rs_with(spec: int, available: int = 0, replicas: int | None = None, **ann: str) -> dict:
    rs = replicaset(replicas=spec)
    rs["status"] = {"replicas": spec if replicas is None else replicas,
                    "availableReplicas": available}
    rs["metadata"]["annotations"] = dict(ann)
    return rs


@pytest.mark.parametrize(("surge", "unavailable", "replicas", "expected"), [
    ("25%", "25%", 10, (3, 2)),      # surge rounds up, unavailable down
    ("25%", "25%", 1, (1, 0)),
    (0, 0, 5, (0, 1)),               # both zero: one may be unavailable
    ("0%", "0%", 5, (0, 1)),
    (2, "50%", 3, (2, 1)),
    ("100%", 0, 4, (4, 0)),
])
def test_fenceposts(surge: int | str, unavailable: int | str, replicas: int,
                    expected: tuple[int, int]) -> None:
    d = deployment(replicas=replicas, surge=surge, unavailable=unavailable)
    assert util.resolve_fenceposts(d) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert util.max_unavailable(deployment(replicas=2, unavailable=5)) == 2
    assert util.max_unavailable(deployment(replicas=0)) == 0
    assert util.max_unavailable(deployment(strategy="Recreate")) == 0
    assert util.max_surge(deployment(strategy="Recreate")) == 0


def test_scaled_value_rejects_non_percent_strings() -> None:
    with pytest.raises(ValueError):
        util.scaled_value("3", 10, True)


def test_new_replicas_respect_surge_and_count_pods_not_yet_gone() -> None:
    d = deployment(replicas=4, surge=1, unavailable=0)
    new = rs_with(0)
    assert util.new_rs_new_replicas(d, [rs_with(4, 4), new], new) == 1
    # The old ReplicaSet was told 3 but still reports 4 pods: no room yet.
    assert util.new_rs_new_replicas(d, [rs_with(3, 3, replicas=4), rs_with(1)], rs_with(1)) == 1
    assert util.new_rs_new_replicas(d, [rs_with(0), rs_with(3)], rs_with(3)) == 4
    assert util.new_rs_new_replicas(deployment(replicas=4, strategy="Recreate"), [new], new) == 4


def test_bounds_of_pods_and_availability() -> None:
    shrinking = rs_with(2, available=3, replicas=3)
    growing = rs_with(3, available=1, replicas=1)
    assert util.pods_upper_bound([shrinking, growing]) == 6
    assert util.available_lower_bound([shrinking, growing]) == 3


def test_hash_is_stable_and_moves_with_collisions() -> None:
    t = template()
    assert util.compute_hash(t, None) == util.compute_hash(template(), None)
    assert util.compute_hash(t, None) != util.compute_hash(template(image="x"), None)
    assert util.compute_hash(t, None) != util.compute_hash(t, 1)
    assert set(util.compute_hash(t, 3)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_equal_ignore_hash() -> None:
    a = template()
    b = template()
    b["metadata"]["labels"]["pod-template-hash"] = "abc"
    b["spec"]["volumes"] = []
    assert util.equal_ignore_hash(a, b)
    assert not util.equal_ignore_hash(a, template(image="other"))


def test_revisions() -> None:
    rss = [rs_with(0, **{util.REVISION: "1"}), rs_with(0, **{util.REVISION: "4"}),
           rs_with(0, **{util.REVISION: "2"}), rs_with(0)]
    assert util.max_revision(rss) == 4
    assert util.last_revision(rss) == 2


def test_a_returning_replicaset_takes_the_new_revision_and_keeps_history() -> None:
    d = deployment()
    d["metadata"]["annotations"] = {"team": "a", util.REVISION: "2",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    rs = rs_with(0, **{util.REVISION: "1", util.REVISION_HISTORY: "0"})
    assert util.set_new_replicaset_annotations(d, rs, 3, exists=True)
    ann = rs["metadata"]["annotations"]
    assert ann[util.REVISION] == "3" and ann[util.REVISION_HISTORY] == "0,1"
    assert ann["team"] == "a" and "kubectl.kubernetes.io/last-applied-configuration" not in ann
    assert not util.set_new_replicaset_annotations(d, rs, 3, exists=True)


def test_revision_history_is_capped() -> None:
    rs = rs_with(0, **{util.REVISION: "9", util.REVISION_HISTORY: ",".join(["1"] * 1000)})
    util.set_new_replicaset_annotations(deployment(), rs, 10, exists=True)
    history = rs["metadata"]["annotations"][util.REVISION_HISTORY]
    assert len(history) <= util.MAX_REVISION_HISTORY_CHARS and history.endswith(",9")


def test_new_replicaset_gets_replica_annotations() -> None:
    rs = rs_with(0)
    util.set_new_replicaset_annotations(deployment(replicas=4, surge=1), rs, 1, exists=False)
    ann = rs["metadata"]["annotations"]
    assert (ann[util.DESIRED_REPLICAS], ann[util.MAX_REPLICAS], ann[util.REVISION]) == \
        ("4", "5", "1")


def test_set_condition_keeps_transition_time_when_status_holds() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    t1 = datetime(2024, 1, 2, tzinfo=timezone.utc)
    status: dict = {}
    util.set_condition(status, util.new_condition("Progressing", "True", "A", "m", t0))
    util.set_condition(status, util.new_condition("Progressing", "True", "A", "m2", t1))
    assert status["conditions"][0]["message"] == "m"  # same status and reason: untouched
    util.set_condition(status, util.new_condition("Progressing", "True", "B", "m3", t1))
    [cond] = status["conditions"]
    assert cond["reason"] == "B" and cond["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    assert cond["lastUpdateTime"] == "2024-01-02T00:00:00Z"


def test_timed_out_only_after_the_deadline() -> None:
    d = deployment(progressDeadlineSeconds=10)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    status = {"conditions": [util.new_condition("Progressing", "True", util.RS_UPDATED, "", t0)]}
    assert not util.deployment_timed_out(d, status, t0.replace(second=10))
    assert util.deployment_timed_out(d, status, t0.replace(second=11))
    assert not util.has_progress_deadline(deployment(progressDeadlineSeconds=2**31 - 1))


def test_status_equal_treats_missing_counts_as_zero() -> None:
    assert util.status_equal({"replicas": 0, "conditions": []}, {})
    assert not util.status_equal({"collisionCount": 0}, {})


def test_round_half_away_from_zero() -> None:
    assert [util.round_half_away(x) for x in (2.5, -2.5, 1.4, -1.6)] == [3, -3, 1, -2]
