"""Tables for ``policy/v1`` PodDisruptionBudget and ``scheduling.k8s.io/v1`` PriorityClass.

Observed with ``kubectl create pdb --selector --min-available=50%``,
``--min-available=2`` and ``--max-unavailable=1`` (both forms of
IntOrString), and ``create priorityclass --value --global-default
--description --preemption-policy``; ``--value=0`` shows ``value`` is
written even when zero.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "PodDisruptionBudget": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodDisruptionBudgetSpec"),
        3: ("status", "PodDisruptionBudgetStatus"),
    },
    "PodDisruptionBudgetSpec": {
        1: ("minAvailable", "IntOrString"),
        2: ("selector", "LabelSelector"),
        3: ("maxUnavailable", "IntOrString"),
    },
    "PodDisruptionBudgetStatus": {},
    "PriorityClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("value", "*int32"),
        3: ("globalDefault", "bool"),
        4: ("description", "string"),
        5: ("preemptionPolicy", "*string"),
    },
}

KINDS: dict[tuple[str, str], str] = {
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
}
