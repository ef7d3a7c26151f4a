"""The scheduler's view of the cluster: nodes and what is placed on them, including its own guesses.

Binding is an API round trip, and the informer reports the bound pod later
still; scheduling the next pod against the informer alone would let two
pods take the same last CPU.  So, as upstream's ``internal/cache``, a pod is
*assumed* onto its node the moment it is chosen, counted there at once, and
the assumption is either confirmed (the informer shows the pod bound) or
forgotten (the bind failed).

Only bound, non-terminal pods count: a Succeeded or Failed pod no longer
holds resources.  Pods can name a node the cache does not know (yet); they
are kept so the node starts out with the right totals when it appears.
"""

from __future__ import annotations

from typing import Any

from machinery.meta import namespaced_name
from scheduler.framework import NodeInfo, Snapshot

__all__ = ["SchedulerCache"]

Obj = dict[str, Any]


class SchedulerCache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pod_node: dict[str, str] = {}
        self._assumed: set[str] = set()

    # -- nodes --------------------------------------------------------------------
    def _info(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name)
        return info

    def set_node(self, node: Obj) -> None:
        """Add or update a node."""
        self._info(node["metadata"]["name"]).set_node(node)

    def remove_node(self, name: str) -> None:
        info = self._nodes.get(name)
        if info is None:
            return
        info.set_node(None)
        if not info.pods:
            del self._nodes[name]

    def node_names(self) -> list[str]:
        return [name for name, info in self._nodes.items() if info.node is not None]

    # -- pods ---------------------------------------------------------------------
    def _place(self, key: str, pod: Obj, node_name: str) -> None:
        previous = self._pod_node.get(key)
        if previous is not None and previous != node_name:
            self._unplace(key)
        self._info(node_name).add_pod(pod)
        self._pod_node[key] = node_name

    def _unplace(self, key: str) -> None:
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return
        info = self._nodes.get(node_name)
        if info is None:
            return
        info.remove_pod(key)
        if info.node is None and not info.pods:
            del self._nodes[node_name]

    def set_pod(self, pod: Obj) -> None:
        """A pod the API shows bound (confirms an assumption, or corrects it)."""
        key = namespaced_name(pod)
        self._assumed.discard(key)
        self._place(key, pod, pod["spec"]["nodeName"])

    def remove_pod(self, key: str) -> bool:
        """Forget a pod (deleted, or terminal); True if it was counted anywhere."""
        self._assumed.discard(key)
        counted = key in self._pod_node
        self._unplace(key)
        return counted

    def assume(self, pod: Obj, node_name: str) -> Obj:
        """Count ``pod`` on ``node_name`` before the API knows; returns the assumed copy."""
        key = namespaced_name(pod)
        assumed = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node_name}}
        self._place(key, assumed, node_name)
        self._assumed.add(key)
        return assumed

    def forget(self, key: str) -> None:
        """Undo :meth:`assume` after a failed bind (a confirmed pod stays)."""
        if key in self._assumed:
            self._assumed.discard(key)
            self._unplace(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def node_of(self, key: str) -> str | None:
        return self._pod_node.get(key)

    # -- snapshot ---------------------------------------------------------------------
    def snapshot(self, services: list[Obj] | None = None) -> Snapshot:
        """The nodes to judge this cycle, in a stable (name) order.

        NodeInfos are shared, not copied: a scheduling cycle runs without
        yielding to the event loop, so nothing changes them while plugins look.
        """
        nodes = [info for _, info in sorted(self._nodes.items()) if info.node is not None]
        return Snapshot(nodes, list(services or ()))
