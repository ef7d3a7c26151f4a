"""SelectorSpread: spread the replicas of one workload over nodes (and zones).

A Deployment's pods on a single node all die with it, so by default the
scheduler prefers nodes running fewer of the pod's "siblings": pods in the
same namespace that share its controller (same controller ownerReference)
or that a Service selecting this pod also selects.  The raw score is the
sibling count per node; normalizing turns the emptiest node into MaxScore.
When nodes carry ``topology.kubernetes.io/zone`` labels, zones are
balanced too and weigh two thirds, as upstream's SelectorSpread did before
PodTopologySpread's system defaults replaced it with the same intent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from machinery import errors
from machinery.meta import get_controller_of, is_being_deleted
from machinery.selectors import LabelSelector, label_selector_from_set
from scheduler.framework import CycleState, MaxScore, NodeInfo

__all__ = ["SelectorSpread", "ZONE_LABEL", "REGION_LABEL", "zone_key"]

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
_ZONE_WEIGHTING = 2.0 / 3.0

Obj = dict[str, Any]
Sibling = Callable[[Obj], bool]


def zone_key(labels: Mapping[str, str]) -> str:
    """Region and zone together (a zone name may repeat across regions); "" when unzoned."""
    zone, region = labels.get(ZONE_LABEL, ""), labels.get(REGION_LABEL, "")
    return f"{region}:\x00:{zone}" if zone or region else ""


def _service_selectors(pod: Obj, services: list[Obj]) -> list[LabelSelector]:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    selectors = []
    for service in services:
        if (service.get("metadata") or {}).get("namespace") != meta.get("namespace"):
            continue
        raw = (service.get("spec") or {}).get("selector")
        if not raw:
            continue  # a selector-less Service selects no pods
        try:
            selector = label_selector_from_set(raw)
        except errors.Invalid:
            continue
        if selector.matches(labels):
            selectors.append(selector)
    return selectors


def _sibling_test(pod: Obj, services: list[Obj]) -> Sibling | None:
    """A predicate for "counts against this pod's spreading", or None if the pod belongs to nothing."""
    namespace = (pod.get("metadata") or {}).get("namespace")
    owner = get_controller_of(pod)
    owner_uid = owner.get("uid") if owner else None
    selectors = _service_selectors(pod, services)
    if not owner_uid and not selectors:
        return None

    def sibling(other: Obj) -> bool:
        meta = other.get("metadata") or {}
        if meta.get("namespace") != namespace or is_being_deleted(other):
            return False
        if owner_uid:
            other_owner = get_controller_of(other)
            if other_owner and other_owner.get("uid") == owner_uid:
                return True
        labels = meta.get("labels") or {}
        return any(selector.matches(labels) for selector in selectors)

    return sibling


class SelectorSpread:
    name = "SelectorSpread"

    def _sibling(self, state: CycleState, pod: Obj) -> Sibling | None:
        return state.once(self.name, lambda: _sibling_test(pod, state.snapshot.services))

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        sibling = self._sibling(state, pod)
        if sibling is None:
            return 0
        return sum(1 for other in node.pods.values() if sibling(other))

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        zones: dict[str, str] = {}
        per_zone: dict[str, int] = {}
        for name, count in scores.items():
            info = state.snapshot.get(name)
            zone = zone_key(info.labels) if info is not None else ""
            if zone:
                zones[name] = zone
                per_zone[zone] = per_zone.get(zone, 0) + count
        most_on_node = max(scores.values(), default=0)
        most_in_zone = max(per_zone.values(), default=0)
        for name, count in scores.items():
            value = float(MaxScore)
            if most_on_node > 0:
                value = MaxScore * (most_on_node - count) / most_on_node
            node_zone = zones.get(name)
            if node_zone is not None:
                zone_value = float(MaxScore)
                if most_in_zone > 0:
                    zone_value = MaxScore * (most_in_zone - per_zone[node_zone]) / most_in_zone
                value = value * (1.0 - _ZONE_WEIGHTING) + _ZONE_WEIGHTING * zone_value
            scores[name] = int(value)
