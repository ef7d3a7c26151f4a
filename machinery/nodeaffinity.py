"""A pod's required node placement (``nodeSelector`` plus required node affinity).

``component-helpers/scheduling/corev1/nodeaffinity`` answers "may this pod
run on that node?" for the scheduler and for the DaemonSet controller alike,
and both must agree, or a DaemonSet would make pods the scheduler can never
place.  Rules: every ``nodeSelector`` pair must be among the node's labels;
with required node affinity at least one ``nodeSelectorTerm`` must match, a
term matching when all its ``matchExpressions`` (labels: In, NotIn, Exists,
DoesNotExist, Gt, Lt) and ``matchFields`` (only ``metadata.name`` with In or
NotIn and one value) hold.  An empty or malformed term matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from machinery.selectors import Operator, Requirement

__all__ = ["term_matches", "placement_matches", "required_affinity_matches",
           "node_name_affinity", "target_node_name"]

_OPERATORS = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
              "DoesNotExist": Operator.DOES_NOT_EXIST, "Gt": Operator.GT, "Lt": Operator.LT}


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    op = _OPERATORS.get(str(expr.get("operator")))
    if op is None:
        return False
    try:
        requirement = Requirement.new(str(expr.get("key", "")), op, list(expr.get("values") or ()))
    except ValueError:
        return False
    return requirement.matches(labels)


def _field_matches(expr: Mapping[str, Any], node_name: str) -> bool:
    values = [str(v) for v in expr.get("values") or ()]
    if expr.get("key") != "metadata.name" or len(values) != 1:
        return False
    if expr.get("operator") == "In":
        return node_name == values[0]
    if expr.get("operator") == "NotIn":
        return node_name != values[0]
    return False


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    expressions = list(term.get("matchExpressions") or ())
    fields = list(term.get("matchFields") or ())
    if not expressions and not fields:
        return False
    return (all(_expression_matches(e, labels) for e in expressions)
            and all(_field_matches(f, node_name) for f in fields))


def placement_matches(pod_spec: Mapping[str, Any], labels: Mapping[str, str],
                      node_name: str) -> bool:
    """Whether a node with these labels and name satisfies the pod's required placement.

    Takes the node's labels and name rather than the Node, so the scheduler
    can ask with what its node cache already holds.
    """
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(term, labels, node_name)
               for term in required.get("nodeSelectorTerms") or ())


def required_affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether the node satisfies the pod's nodeSelector and required node affinity."""
    meta = node.get("metadata") or {}
    return placement_matches(pod_spec, meta.get("labels") or {}, str(meta.get("name") or ""))


def node_name_affinity(affinity: Mapping[str, Any] | None, node_name: str) -> dict[str, Any]:
    """``affinity`` with its required node terms replaced by "metadata.name In [node]".

    This is how a DaemonSet pod is pinned to its node while still going
    through the scheduler (``ReplaceDaemonSetPodNodeNameNodeAffinity``);
    preferred terms and pod (anti-)affinity are kept.
    """
    out = dict(affinity or {})
    node_affinity = dict(out.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    out["nodeAffinity"] = node_affinity
    return out


def target_node_name(pod: Mapping[str, Any]) -> str | None:
    """The node a pod is bound to, or pinned to by a one-name matchFields term."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if len(terms) != 1:
        return None
    for expr in terms[0].get("matchFields") or ():
        values = list(expr.get("values") or ())
        if (expr.get("key") == "metadata.name" and expr.get("operator") == "In"
                and len(values) == 1):
            return str(values[0])
    return None
