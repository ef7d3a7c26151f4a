"""The Deployment controller, split as upstream splits it.

``controller`` (handlers and dispatch), ``sync`` (ReplicaSets, revisions,
scaling, status), ``rolling`` and ``recreate`` (the strategies),
``progress`` (the Progressing condition and deadline), ``rollback`` and
``util`` (pure arithmetic).
"""

from controllers.deployment.controller import DeploymentController

__all__ = ["DeploymentController"]
