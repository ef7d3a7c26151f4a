"""The Job controller and the TTL-after-finished controller, split as upstream splits them.

``controller`` (handlers, claiming, releasing leftover finalizers), ``decide``
(failure, success and how many pods), ``manage`` (pod writes), ``tracking``
(counting with the tracking finalizer), ``pods`` (the pods built from a
Job), ``util`` (pure rules) and ``ttl`` (deleting finished Jobs).
"""

from controllers.job.controller import JobController
from controllers.job.ttl import TTLAfterFinishedController

__all__ = ["JobController", "TTLAfterFinishedController"]
