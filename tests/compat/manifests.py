"""The ``web`` Deployment and Service the CLI compatibility tests apply, as the YAML a user writes.

Kept as text, not a dict, since the tests write it to files as is and some edit the text between
applies (an image, a dropped line); only the fields the tests vary are parameters.
"""

from __future__ import annotations


def web_deployment(*, labels: str, replicas: int, image: str, port: int) -> str:
    """Deployment ``web`` selecting ``app: web``, with one container ``web`` exposing ``port``."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{{labels}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: {port}
"""


def web_service(*, target_port: int) -> str:
    """Service ``web`` on port 80, selecting ``app: web`` and sending to ``target_port``."""
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {{app: web}}
  ports:
  - port: 80
    targetPort: {target_port}
"""
