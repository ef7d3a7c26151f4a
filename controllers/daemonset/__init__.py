"""The DaemonSet controller, split as upstream splits it.

``controller`` (handlers, revisions, the manage loop), ``sync`` (per-node
plans and the pod writes), ``rolling`` (the no-surge rolling update),
``status`` (per-node counting) and ``util`` (pure rules: eligibility, daemon
tolerations, pod templates pinned to a node).
"""

from controllers.daemonset.controller import DaemonSetController

__all__ = ["DaemonSetController"]
