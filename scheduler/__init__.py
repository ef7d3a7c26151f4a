"""k8py's scheduler: assigns pending pods to nodes (``python -m scheduler``)."""
