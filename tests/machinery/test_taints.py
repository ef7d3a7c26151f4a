"""Taint/toleration matching as core/v1 defines it."""

from __future__ import annotations

from machinery import taints
from machinery.taints import (
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    min_toleration_seconds,
    same_taint,
    tolerates,
    untolerated,
    used_tolerations,
)

UNREACHABLE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}
DEDICATED = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def test_exported_members() -> None:
    for name in taints.__all__:
        assert hasattr(taints, name), name


def test_exists_with_empty_key_tolerates_everything_of_its_effect() -> None:
    assert tolerates({"operator": "Exists"}, UNREACHABLE)
    assert tolerates({"operator": "Exists"}, DEDICATED)
    assert not tolerates({"operator": "Exists", "effect": "NoSchedule"}, UNREACHABLE)


def test_equal_needs_key_and_value_and_defaults_to_equal() -> None:
    assert tolerates({"key": "dedicated", "value": "gpu"}, DEDICATED)
    assert tolerates({"key": "dedicated", "operator": "Equal", "value": "gpu",
                      "effect": "NoSchedule"}, DEDICATED)
    assert not tolerates({"key": "dedicated", "value": "cpu"}, DEDICATED)
    assert not tolerates({"key": "other", "operator": "Exists"}, DEDICATED)
    assert not tolerates({"key": "dedicated", "operator": "Gt", "value": "gpu"}, DEDICATED)


def test_untolerated_and_used() -> None:
    tols = [{"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 30},
            {"key": TAINT_NOT_READY, "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 10}]
    assert untolerated(tols, [UNREACHABLE, DEDICATED]) == [DEDICATED]
    assert untolerated(None, [UNREACHABLE]) == [UNREACHABLE]
    assert used_tolerations(tols, [UNREACHABLE]) == [tols[0]]


def test_min_toleration_seconds() -> None:
    assert min_toleration_seconds([]) is None
    assert min_toleration_seconds([{"operator": "Exists"}]) is None
    assert min_toleration_seconds([{"tolerationSeconds": 30}, {"tolerationSeconds": 5},
                                   {"operator": "Exists"}]) == 5.0
    assert min_toleration_seconds([{"tolerationSeconds": -3}]) == 0.0


def test_taints_are_identified_by_key_and_effect() -> None:
    assert same_taint(UNREACHABLE, {**UNREACHABLE, "timeAdded": "2024-01-01T00:00:00Z"})
    assert not same_taint(UNREACHABLE, {"key": TAINT_UNREACHABLE, "effect": "NoSchedule"})
