"""The registry and default profile: every plugin is constructible and does what its entry says."""

from __future__ import annotations

import pytest

from scheduler.framework import NormalizeScore
from scheduler.plugins import DEFAULT_FILTERS, DEFAULT_SCORES, REGISTRY, build_profile


def test_registry_names_match_plugins() -> None:
    for name, factory in REGISTRY.items():
        assert factory().name == name


def test_default_profile_shares_instances_between_points() -> None:
    profile = build_profile()
    assert [p.name for p in profile.filters] == list(DEFAULT_FILTERS)
    assert {p.name: w for p, w in profile.scores} == DEFAULT_SCORES
    filters: dict[str, object] = {p.name: p for p in profile.filters}
    scores: dict[str, object] = {p.name: p for p, _ in profile.scores}
    assert filters["NodeAffinity"] is scores["NodeAffinity"]
    assert isinstance(scores["SelectorSpread"], NormalizeScore)
    assert not isinstance(scores["NodeResourcesLeastAllocated"], NormalizeScore)


def test_unknown_or_misused_plugins_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown filter plugin"):
        build_profile(filters=("NoSuchPlugin",))
    with pytest.raises(ValueError, match="does not implement filter"):
        build_profile(filters=("NodeResourcesLeastAllocated",))
    with pytest.raises(ValueError, match="positive weight"):
        build_profile(scores={"NodeAffinity": 0})
