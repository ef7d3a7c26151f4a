"""The scheduling framework: what a plugin sees and what it answers.

As in kube-scheduler (``framework/interface.go``), placing a pod is two
questions asked of small plugins: *may* it run on this node (``filter``,
answered with a ``Status``) and *how good* is this node (``score``, an
integer up to ``MaxScore``).  "Unschedulable" is a status code, not an
exception, because it is the normal outcome for most nodes and the scheduler
has to count the reasons to tell the user why nothing fit.

Plugins are pure over a ``Snapshot``: nodes plus the pods bound or assumed
on each, taken once per scheduling cycle, so every node is judged against
the same state and a plugin can be tested with plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from machinery.meta import get_condition, namespaced_name
from machinery.podrequests import (
    PODS,
    HostPort,
    ResourceAmounts,
    amounts,
    pod_host_ports,
    pod_non_zero_requests,
    pod_requests,
)

__all__ = [
    "MaxScore",
    "Code",
    "Status",
    "NodeInfo",
    "Snapshot",
    "CycleState",
    "Plugin",
    "FilterPlugin",
    "ScorePlugin",
    "NormalizeScore",
    "default_normalize",
    "FitError",
    "NO_NODES_AVAILABLE",
    "node_ready_status",
]

Obj = dict[str, Any]
T = TypeVar("T")

MaxScore = 100


class Code(Enum):
    SUCCESS = "Success"
    # The node does not fit now, but removing pods (preemption) might help.
    UNSCHEDULABLE = "Unschedulable"
    # Nothing done to pods on the node can make it fit (labels, taints, name).
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    # The plugin failed; the attempt is retried, the node is not judged.
    ERROR = "Error"


@dataclass(frozen=True)
class Status:
    """A plugin's verdict; ``reasons`` are the user-facing phrases counted in FailedScheduling."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> Status:
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return cls(code, reasons)

    @classmethod
    def error(cls, message: str) -> Status:
        return cls(Code.ERROR, (message,))

    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, self.reasons, plugin)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


SUCCESS = Status()


def _node_allocatable(node: Obj) -> ResourceAmounts:
    status = node.get("status") or {}
    return amounts(status.get("allocatable") or status.get("capacity"))


@dataclass
class NodeInfo:
    """One node and what is already placed on it, kept up to date incrementally by the cache.

    ``node`` is None while pods are known to be bound to a node the cache has
    not seen yet (or no longer sees); such entries are never offered to plugins.
    """

    name: str
    node: Obj | None = None
    pods: dict[str, Obj] = field(default_factory=dict)
    requested: ResourceAmounts = field(default_factory=dict)
    non_zero_requested: ResourceAmounts = field(default_factory=dict)
    used_ports: dict[HostPort, int] = field(default_factory=dict)
    allocatable: ResourceAmounts = field(default_factory=dict)

    def set_node(self, node: Obj | None) -> None:
        self.node = node
        self.allocatable = _node_allocatable(node) if node is not None else {}

    @property
    def labels(self) -> Mapping[str, str]:
        return ((self.node or {}).get("metadata") or {}).get("labels") or {}

    @property
    def taints(self) -> list[Obj]:
        return list(((self.node or {}).get("spec") or {}).get("taints") or ())

    def _account(self, pod: Obj, sign: int) -> None:
        for totals, amounts_ in ((self.requested, pod_requests(pod)),
                                 (self.non_zero_requested, pod_non_zero_requests(pod))):
            for name, value in amounts_.items():
                totals[name] = totals.get(name, 0) + sign * value
        for port in pod_host_ports(pod):
            count = self.used_ports.get(port, 0) + sign
            if count > 0:
                self.used_ports[port] = count
            else:
                self.used_ports.pop(port, None)

    def add_pod(self, pod: Obj) -> None:
        key = namespaced_name(pod)
        if key in self.pods:
            self.remove_pod(key)
        self.pods[key] = pod
        self._account(pod, +1)

    def remove_pod(self, key: str) -> Obj | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._account(pod, -1)
        return pod

    def allowed_pod_number(self) -> int:
        return self.allocatable.get(PODS, 0)

    def usage_with(self, pod_amounts: ResourceAmounts, resources: tuple[str, ...], *,
                   non_zero: bool) -> list[tuple[int, int]]:
        """(requested including the pod, allocatable) per resource, for the allocation scorers.

        Resources the node does not advertise are left out, so a missing
        extended resource neither helps nor hurts a node's score.
        """
        placed = self.non_zero_requested if non_zero else self.requested
        out = []
        for resource in resources:
            allocatable = self.allocatable.get(resource, 0)
            if allocatable > 0:
                out.append((placed.get(resource, 0) + pod_amounts.get(resource, 0), allocatable))
        return out


@dataclass
class Snapshot:
    """The nodes one scheduling cycle judges, plus the Services that define spreading."""

    nodes: list[NodeInfo]
    services: list[Obj] = field(default_factory=list)
    _by_name: dict[str, NodeInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {info.name: info for info in self.nodes}

    def get(self, name: str) -> NodeInfo | None:
        return self._by_name.get(name)


@dataclass
class CycleState:
    """Per-attempt scratch space: plugins cache what they computed once for the pod."""

    snapshot: Snapshot
    data: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` on the first call for ``key`` in this attempt, its result after that.

        A plugin runs once per node, but what it derives from the pod alone
        is the same for every node.
        """
        if key not in self.data:
            self.data[key] = compute()
        return cast(T, self.data[key])


class Plugin(Protocol):
    name: str


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status: ...


class ScorePlugin(Plugin, Protocol):
    """Scores one feasible node; raw scores outside 0..MaxScore need ``NormalizeScore``."""

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScore(Protocol):
    """Upstream's ScoreExtensions: rescale every node's raw score in place once all are known."""

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None: ...


def default_normalize(scores: dict[str, int], *, reverse: bool = False) -> None:
    """Scale so the best raw score becomes MaxScore; ``reverse`` when a lower raw score is better.

    As upstream ``helper.DefaultNormalizeScore``: all zeros stay zero (or all
    become MaxScore when reversed), so a plugin with nothing to say does not
    tip the balance.
    """
    highest = max(scores.values(), default=0)
    for name, value in scores.items():
        scaled = MaxScore * value // highest if highest else 0
        scores[name] = MaxScore - scaled if reverse else scaled


def node_ready_status(node: Obj) -> str:
    """The node's Ready condition status: "True", "False" or "Unknown" (also when missing)."""
    cond = get_condition((node.get("status") or {}).get("conditions"), "Ready")
    return str(cond.get("status")) if cond else "Unknown"


NO_NODES_AVAILABLE = "no nodes available to schedule pods"
_NOT_HELPFUL = "Preemption is not helpful for scheduling"
_NO_VICTIMS = "No preemption victims found for incoming pod"


def _histogram(reasons: list[str]) -> str:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    # Upstream sorts the "<count> <reason>" strings themselves.
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))


@dataclass
class FitError:
    """Why no node fits a pod, worded as kube-scheduler words FailedScheduling.

    k8py does not preempt, but it tells the user what preemption would have
    concluded: nodes failing on something evicting pods cannot change
    (taints, labels) are "not helpful"; on the rest, equal-priority pods
    offer no victims.
    """

    pod: Obj
    num_all_nodes: int
    statuses: dict[str, Status]

    def unschedulable_plugins(self) -> set[str]:
        return {status.plugin for status in self.statuses.values() if status.plugin}

    def _preemption(self) -> str:
        if (self.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return "preemption: not eligible due to preemptionPolicy=Never."
        verdicts = [_NOT_HELPFUL if status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
                    else _NO_VICTIMS for status in self.statuses.values()]
        return (f"preemption: 0/{self.num_all_nodes} nodes are available: "
                f"{_histogram(verdicts)}.")

    @property
    def message(self) -> str:
        if self.num_all_nodes == 0:
            return NO_NODES_AVAILABLE
        reasons = [reason for status in self.statuses.values() for reason in status.reasons]
        return (f"0/{self.num_all_nodes} nodes are available: {_histogram(reasons)}. "
                + self._preemption())
