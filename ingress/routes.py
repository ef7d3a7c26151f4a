"""Ingresses to a routing table: which backend endpoints serve a host and path.

Pure, so every matching rule of networking.k8s.io/v1 is tested without a
socket.  ``build_table`` takes the cached Ingresses, IngressClasses,
Services and EndpointSlices and returns a ``RouteTable``:

* **Class.** An Ingress is ours when its ``spec.ingressClassName`` (or the
  older ``kubernetes.io/ingress.class`` annotation) names an IngressClass
  whose ``spec.controller`` is ours, or when it names none and one of our
  classes carries ``ingressclass.kubernetes.io/is-default-class: "true"``.
* **Host.** A rule's host is exact (``foo.example.com``), a wildcard
  (``*.example.com``, matching exactly one more leading label, so neither
  ``example.com`` nor ``a.b.example.com``), or absent (every host).  The most
  specific host that has rules decides: exact, then wildcard, then
  host-less rules.  Host comparison ignores case and the port.
* **Path.** ``Exact`` compares the whole path, case-sensitively.
  ``Prefix`` compares ``/``-separated elements, so ``/foo`` matches ``/foo``,
  ``/foo/`` and ``/foo/bar`` but not ``/foobar``, and a trailing slash on
  either side is ignored; ``ImplementationSpecific`` is treated as Prefix.
  The longest match (most elements) wins and at equal length Exact beats
  Prefix; a tie between Ingresses goes to the oldest.
* **Default.** When no rule matches, the oldest ``spec.defaultBackend``
  among our Ingresses serves the request; without one, the proxy says 404.
* **Backends.** ``service.port.number`` or ``.name`` is looked up among the
  Service's ports; the port's name then selects the EndpointSlice port, so a
  named ``targetPort`` resolves per pod as kube-proxy resolves it.  Only
  ready IPv4 endpoints serve.  A backend that cannot be resolved keeps the
  reason, which the proxy logs with its 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from machinery.endpointslices import ipv4, port_endpoints, slices_by_service

__all__ = ["CONTROLLER", "DEFAULT_CLASS_ANNOTATION", "Endpoint", "Backend", "Route",
           "RouteTable", "build_table", "our_classes", "is_ours", "owned_ingresses",
           "prefix_matches", "split_host"]

Obj = dict[str, Any]
CONTROLLER = "k8py.io/ingress-controller"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Backend:
    """A Service port and the ready endpoints behind it (or why there are none)."""

    namespace: str
    service: str
    port: int | str
    endpoints: tuple[Endpoint, ...] = ()
    problem: str = ""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass(frozen=True)
class Route:
    ingress: str  # namespace/name, for logs and metrics
    host: str
    path: str
    path_type: str  # Exact, Prefix or Default
    backend: Backend
    order: tuple[str, str] = field(default=("", ""), compare=False)

    def matches(self, path: str) -> bool:
        if self.path_type == "Exact":
            return path == self.path
        return prefix_matches(self.path, path)

    def rank(self) -> tuple[int, int, int, tuple[str, str]]:
        """Sort key: most path elements first, Exact before Prefix, then longest, then oldest."""
        return (-len(_elements(self.path)), 0 if self.path_type == "Exact" else 1,
                -len(self.path), self.order)


def _elements(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def prefix_matches(prefix: str, path: str) -> bool:
    """Prefix matching by path element, as networking.k8s.io/v1 defines it."""
    wanted = _elements(prefix)
    return _elements(path)[:len(wanted)] == wanted


def split_host(value: str) -> str:
    """The host of a Host header, lower-case, without port or trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


@dataclass
class RouteTable:
    exact: dict[str, list[Route]] = field(default_factory=dict)
    wildcard: dict[str, list[Route]] = field(default_factory=dict)  # by the part after "*."
    any_host: list[Route] = field(default_factory=list)
    default: Route | None = None

    def _candidates(self, host: str) -> list[Route] | None:
        if host in self.exact:
            return self.exact[host]
        head, dot, rest = host.partition(".")
        if dot and head and rest in self.wildcard:
            return self.wildcard[rest]
        return self.any_host or None

    def match(self, host: str, path: str) -> Route | None:
        """The route for a request, the default backend's, or ``None`` (404)."""
        path = path.split("?", 1)[0].split("#", 1)[0] or "/"
        for route in self._candidates(split_host(host)) or ():
            if route.matches(path):
                return route
        return self.default

    def sort(self) -> None:
        for routes in (*self.exact.values(), *self.wildcard.values(), self.any_host):
            routes.sort(key=Route.rank)


def our_classes(classes: Iterable[Obj], controller: str = CONTROLLER) -> tuple[set[str], bool]:
    """Names of the IngressClasses we implement, and whether one of them is the default."""
    names: set[str] = set()
    default = False
    for cls in classes:
        if (cls.get("spec") or {}).get("controller") != controller:
            continue
        meta = cls.get("metadata") or {}
        names.add(str(meta.get("name")))
        default = default or (meta.get("annotations") or {}).get(
            DEFAULT_CLASS_ANNOTATION) == "true"
    return names, default


def is_ours(ingress: Obj, names: set[str], default: bool) -> bool:
    meta = ingress.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    wanted = (ingress.get("spec") or {}).get("ingressClassName") or \
        (meta.get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
    return wanted in names if wanted else default


def owned_ingresses(ingresses: Iterable[Obj], classes: Iterable[Obj],
                    controller: str = CONTROLLER) -> list[Obj]:
    """Our Ingresses, oldest first (the order that settles conflicts)."""
    names, default = our_classes(classes, controller)
    mine = [ing for ing in ingresses if is_ours(ing, names, default)]
    return sorted(mine, key=_order)


def _order(ingress: Obj) -> tuple[str, str]:
    meta = ingress.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""),
            f"{meta.get('namespace')}/{meta.get('name')}")


class _Resolver:
    """Service backends to endpoints, over indexes of the cached objects."""

    def __init__(self, services: Iterable[Obj], slices: Iterable[Obj]) -> None:
        self.services = {(str((s.get("metadata") or {}).get("namespace")),
                          str((s.get("metadata") or {}).get("name"))): s for s in services}
        self.slices = slices_by_service(slices)

    def backend(self, namespace: str, spec: Mapping[str, Any] | None) -> Backend | None:
        service = (spec or {}).get("service")
        if not isinstance(service, dict) or not service.get("name"):
            return None  # a resource backend, or none: nothing we can proxy to
        port_spec = service.get("port") or {}
        wanted: int | str = port_spec.get("number") or port_spec.get("name") or ""
        name = str(service["name"])
        found = self.services.get((namespace, name))
        partial = Backend(namespace, name, wanted)
        if found is None:
            return Backend(namespace, name, wanted, problem="service not found")
        if (found.get("spec") or {}).get("type") == "ExternalName":
            return Backend(namespace, name, wanted, problem="ExternalName services are not proxied")
        for port in (found.get("spec") or {}).get("ports") or ():
            if (isinstance(wanted, int) and port.get("port") == wanted) or \
                    (isinstance(wanted, str) and wanted and port.get("name") == wanted):
                return self._endpoints(partial, str(port.get("name") or ""),
                                       str(port.get("protocol") or "TCP"))
        return Backend(namespace, name, wanted, problem="service has no such port")

    def _endpoints(self, backend: Backend, port_name: str, protocol: str) -> Backend:
        found: set[Endpoint] = set()
        own_slices = self.slices.get((backend.namespace, backend.service), ())
        for number, endpoint in port_endpoints(own_slices, port_name, protocol):
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or ():
                if (ip := ipv4(address)) is not None:
                    found.add(Endpoint(ip, number))
        problem = "" if found else "no ready endpoints"
        return Backend(backend.namespace, backend.service, backend.port, tuple(sorted(found)),
                       problem)


def _add_rules(table: RouteTable, ingress: Obj, resolver: _Resolver) -> None:
    meta = ingress.get("metadata") or {}
    namespace = str(meta.get("namespace"))
    key, order = f"{namespace}/{meta.get('name')}", _order(ingress)
    for rule in (ingress.get("spec") or {}).get("rules") or ():
        host = str(rule.get("host") or "").lower()
        if host.startswith("*."):
            group = table.wildcard.setdefault(host[2:], [])
        elif host:
            group = table.exact.setdefault(host, [])
        else:
            group = table.any_host
        for path in ((rule.get("http") or {}).get("paths")) or ():
            value = str(path.get("path") or "/")
            kind = path.get("pathType") or "ImplementationSpecific"
            backend = resolver.backend(namespace, path.get("backend"))
            if backend is None or kind not in _PATH_TYPES or not value.startswith("/"):
                continue
            group.append(Route(key, host, value, "Exact" if kind == "Exact" else "Prefix",
                               backend, order))


def build_table(ingresses: Iterable[Obj], classes: Iterable[Obj], services: Iterable[Obj],
                slices: Iterable[Obj], *, controller: str = CONTROLLER) -> RouteTable:
    """The routing table of every Ingress this controller implements."""
    resolver = _Resolver(services, slices)
    table = RouteTable()
    for ingress in owned_ingresses(ingresses, classes, controller):
        _add_rules(table, ingress, resolver)
        default = (ingress.get("spec") or {}).get("defaultBackend")
        if default and table.default is None:
            meta = ingress.get("metadata") or {}
            backend = resolver.backend(str(meta.get("namespace")), default)
            if backend is not None:
                table.default = Route(f"{meta.get('namespace')}/{meta.get('name')}", "", "/",
                                      "Default", backend, _order(ingress))
    table.sort()
    return table
