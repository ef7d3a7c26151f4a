"""NodeAffinity: ``nodeSelector`` and node affinity, required as a filter, preferred as a score.

A pod fits a node when every ``nodeSelector`` pair is among the node's
labels and, if it has required node affinity, at least one of its
``nodeSelectorTerms`` matches.  Within a term all ``matchExpressions`` (on
labels) and ``matchFields`` (only ``metadata.name``) must hold.  Operators
are In, NotIn, Exists, DoesNotExist, Gt and Lt (integer comparison).  A term
that is empty or malformed matches nothing, as upstream
(``nodeaffinity.NewNodeSelector``).

The score is the sum of the weights of the preferred terms a node matches,
scaled so the best node gets MaxScore.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from machinery.selectors import Operator, Requirement
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status, default_normalize

__all__ = ["NodeAffinity", "REASON", "term_matches"]

REASON = "node(s) didn't match Pod's node affinity/selector"
_OPERATORS = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
              "DoesNotExist": Operator.DOES_NOT_EXIST, "Gt": Operator.GT, "Lt": Operator.LT}
_FIELD_OPERATORS = ("In", "NotIn")


def _requirement(expr: Mapping[str, Any]) -> Requirement | None:
    op = _OPERATORS.get(str(expr.get("operator")))
    if op is None:
        return None
    try:
        return Requirement.new(str(expr.get("key", "")), op, list(expr.get("values") or ()))
    except ValueError:
        return None


def _field_matches(expr: Mapping[str, Any], node_name: str) -> bool:
    if expr.get("key") != "metadata.name" or expr.get("operator") not in _FIELD_OPERATORS:
        return False
    values = list(expr.get("values") or ())
    if len(values) != 1:
        return False  # validation allows exactly one name
    return (node_name in values) == (expr.get("operator") == "In")


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    expressions = list(term.get("matchExpressions") or ())
    fields = list(term.get("matchFields") or ())
    if not expressions and not fields:
        return False
    for expr in expressions:
        requirement = _requirement(expr)
        if requirement is None or not requirement.matches(labels):
            return False
    return all(_field_matches(expr, node_name) for expr in fields)


def _node_affinity(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = "NodeAffinity"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        labels = node.labels
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        if any(labels.get(key) != value for key, value in selector.items()):
            return Status.unschedulable(REASON, unresolvable=True)
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is None:
            return SUCCESS
        terms = required.get("nodeSelectorTerms") or ()
        if any(term_matches(term, labels, node.name) for term in terms):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> int:
        preferred = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution")
        total = 0
        for entry in preferred or ():
            weight = int(entry.get("weight") or 0)
            if weight and term_matches(entry.get("preference") or {}, node.labels, node.name):
                total += weight
        return total

    def normalize(self, state: CycleState, pod: dict[str, Any], scores: dict[str, int]) -> None:
        default_normalize(scores)
