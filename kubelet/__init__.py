"""k8py's node agent: registers a Node and runs the pods bound to it as Docker containers.

``python -m kubelet --node-name n1 --api-server http://127.0.0.1:6443`` runs one.
The pieces, bottom up: ``runtime`` (Docker on a thread pool, labels),
``containers``/``sandbox``/``volumes``/``env`` (spec to Docker), ``images``,
``probes``, ``backoff``, ``status`` (pure status computation), ``sync`` (one
pass over a pod), ``pods`` (per-pod workers), ``gc`` (leftovers), ``node``
(Node and Lease) and ``kubelet`` (the wiring).
"""
