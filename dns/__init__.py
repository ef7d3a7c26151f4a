"""Cluster DNS for k8py: answers the Kubernetes DNS schema from the API, forwards the rest.

``python -m dns`` watches Services, EndpointSlices and Pods, serves their
records on UDP and TCP, and publishes itself as ``kube-system/kube-dns`` so
pods reach it through a ClusterIP like any Service.
"""
