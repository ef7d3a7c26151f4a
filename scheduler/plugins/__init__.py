"""The plugin registry and the default profile.

``REGISTRY`` maps a plugin name to a factory, as upstream's
``plugins/registry.go``; a ``Profile`` names which plugins filter (in order:
a node's status is that of the first filter it fails, so cheap and decisive
checks come first) and which score with what weight.  The default weights
are kube-scheduler's: taints 3, node affinity and spreading 2, the
allocation scorers 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from scheduler.framework import FilterPlugin, Plugin, ScorePlugin
from scheduler.plugins.balanced_allocation import BalancedAllocation
from scheduler.plugins.least_allocated import LeastAllocated
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_name import NodeName
from scheduler.plugins.node_ports import NodePorts
from scheduler.plugins.node_ready import NodeReady
from scheduler.plugins.node_resources_fit import NodeResourcesFit
from scheduler.plugins.node_unschedulable import NodeUnschedulable
from scheduler.plugins.spread import SelectorSpread
from scheduler.plugins.taint_toleration import TaintToleration

__all__ = ["REGISTRY", "Profile", "DEFAULT_FILTERS", "DEFAULT_SCORES", "build_profile"]

REGISTRY: dict[str, Callable[[], Plugin]] = {
    NodeUnschedulable.name: NodeUnschedulable,
    NodeName.name: NodeName,
    TaintToleration.name: TaintToleration,
    NodeReady.name: NodeReady,
    NodeAffinity.name: NodeAffinity,
    NodePorts.name: NodePorts,
    NodeResourcesFit.name: NodeResourcesFit,
    LeastAllocated.name: LeastAllocated,
    BalancedAllocation.name: BalancedAllocation,
    SelectorSpread.name: SelectorSpread,
}

DEFAULT_FILTERS: tuple[str, ...] = (
    NodeUnschedulable.name,
    NodeName.name,
    TaintToleration.name,
    NodeReady.name,
    NodeAffinity.name,
    NodePorts.name,
    NodeResourcesFit.name,
)

DEFAULT_SCORES: dict[str, int] = {
    TaintToleration.name: 3,
    NodeAffinity.name: 2,
    SelectorSpread.name: 2,
    LeastAllocated.name: 1,
    BalancedAllocation.name: 1,
}


@dataclass
class Profile:
    """The plugins one scheduler name runs; a plugin used at both points is one instance."""

    scheduler_name: str = "default-scheduler"
    filters: list[FilterPlugin] = field(default_factory=list)
    scores: list[tuple[ScorePlugin, int]] = field(default_factory=list)


def build_profile(scheduler_name: str = "default-scheduler",
                  filters: tuple[str, ...] = DEFAULT_FILTERS,
                  scores: dict[str, int] | None = None) -> Profile:
    """Instantiate the named plugins; an unknown name is a configuration error (ValueError)."""
    wanted_scores = DEFAULT_SCORES if scores is None else scores
    instances: dict[str, Plugin] = {}

    def get(name: str, point: str) -> Plugin:
        if name not in REGISTRY:
            raise ValueError(f"unknown {point} plugin {name!r}; known: {', '.join(sorted(REGISTRY))}")
        if name not in instances:
            instances[name] = REGISTRY[name]()
        plugin = instances[name]
        if not callable(getattr(plugin, point, None)):
            raise ValueError(f"plugin {name!r} does not implement {point}")
        return plugin

    profile = Profile(scheduler_name)
    profile.filters = [cast(FilterPlugin, get(name, "filter")) for name in filters]
    for name, weight in wanted_scores.items():
        if weight <= 0:
            raise ValueError(f"score plugin {name!r} needs a positive weight, not {weight}")
        profile.scores.append((cast(ScorePlugin, get(name, "score")), weight))
    return profile
