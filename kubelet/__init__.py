"""k8py's node agent: registers a Node and runs the pods bound to it as Docker containers.

``python -m kubelet --node-name n1 --api-server http://127.0.0.1:6443`` runs one.
The pieces, bottom up: ``runtime`` (Docker on a thread pool; the labels every
object carries), ``containers``/``sandbox``/``volumes``/``projection``/``env``
(pod spec to Docker), ``images``, ``probes``, ``backoff``, ``status`` (pure
status computation), ``context`` (what a pod pass needs), ``lifecycle``
(observe, stop, kill, remove), ``sync`` (one pass over a pod), ``pods``
(per-pod workers and status writes), ``gc`` (leftovers), ``machine`` and
``node`` (Node and Lease) and ``kubelet`` (the wiring).  The streaming server
(``server`` and its helpers) serves logs, exec, attach and port-forward.
"""
