"""The StatefulSet controller, split as upstream splits it.

``controller`` (handlers, revisions, status), ``control`` (one pass of the
ordered create / scale-down / rolling-update algorithm), ``podcontrol``
(the pod and claim writes with their events) and ``identity`` (pure rules:
ordinals, names, claims, retention owners).
"""

from controllers.statefulset.controller import StatefulSetController

__all__ = ["StatefulSetController"]
