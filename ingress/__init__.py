"""The k8py ingress controller: networking.k8s.io/v1 Ingresses served by an HTTP proxy.

``python -m ingress`` watches Ingresses, IngressClasses, Services and
EndpointSlices, routes each request by host and path to a ready endpoint of
the backend Service, and reports the address it listens on in every
Ingress's status.
"""
