"""The cluster's DNS records, computed from Services, EndpointSlices and Pods.

Pure: ``build_zone`` turns cached objects into a ``Zone`` and ``Zone.lookup``
answers one question from it, so every rule of the Kubernetes DNS
specification (kubernetes/dns ``docs/specification.md``) is tested without
sockets.  The records, for cluster domain ``<zone>``:

* ``<svc>.<ns>.svc.<zone>`` A: the ClusterIP; for a headless Service every
  *ready* endpoint address (none at all still answers NODATA, not NXDOMAIN,
  since the Service exists); for an ExternalName Service a CNAME to
  ``spec.externalName``, followed only while it stays inside the zone;
* ``<hostname>.<svc>.<ns>.svc.<zone>`` A for each ready endpoint of a
  headless Service, ``hostname`` being the endpoint's own (a pod's
  ``spec.hostname`` when its ``spec.subdomain`` names the Service) or else
  its dashed IP (``10-244-0-7``), the "system-assigned identifier";
* ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` SRV for each named port:
  pointing at the Service name, or for a headless Service at each endpoint's
  hostname with the endpoint's port; the targets' A records go in the
  additional section;
* PTR for every ClusterIP, headless endpoint and pod IP;
* ``<a-b-c-d>.<ns>.pod.<zone>`` A for pods that have that IP in that
  namespace (CoreDNS's "pods verified": the name cannot be made to point
  anywhere by a mere query);
* ``dns-version.<zone>`` TXT, and SOA/NS at the apex.

Names that do not exist under the zone are NXDOMAIN with the zone's SOA in
the authority section (so resolvers cache the miss for the SOA minimum),
existing names asked for another type are NODATA.  This is what makes the
search-path expansion of an ``ndots:5`` resolver cheap: every wrong guess
(``web.default.svc.cluster.local.default.svc.cluster.local``) is answered
at once from memory.  Reverse names we hold no record for are not ours
(``None``): like CoreDNS's ``fallthrough in-addr.arpa``, they go upstream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from machinery.endpointslices import ipv4, slices_by_service

__all__ = ["TTL", "HEADLESS_TTL", "SCHEMA_VERSION", "Srv", "Soa", "Record", "Answer", "Zone",
           "build_zone", "dashed", "reverse_name", "normalize"]

Obj = dict[str, Any]
TTL = 30
HEADLESS_TTL = 5
SCHEMA_VERSION = "1.1.0"
TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
_MAX_CNAME_HOPS = 8
# SOA timers as CoreDNS's kubernetes plugin sets them; the minimum is the negative-cache TTL.
_SOA_TIMERS = (7200, 1800, 86400, TTL)


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True)
class Record:
    """One resource record; ``name`` is lower-case, without the trailing dot."""

    name: str
    rtype: str  # A, CNAME, SRV, PTR, TXT, SOA or NS
    ttl: int
    data: str | Srv | Soa


@dataclass(frozen=True)
class Answer:
    rcode: str  # NOERROR or NXDOMAIN
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()


def normalize(name: str) -> str:
    return name.rstrip(".").lower()


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def reverse_name(ip: str) -> str:
    return normalize(ipaddress.ip_address(ip).reverse_pointer)


class Zone:
    """An in-memory authoritative zone for the cluster domain plus reverse records."""

    def __init__(self, domain: str, serial: int = 1) -> None:
        self.domain = normalize(domain)
        self._records: dict[str, list[Record]] = {}
        self._names: set[str] = {self.domain}
        self.soa = Record(self.domain, "SOA", TTL, Soa(
            f"ns.dns.{self.domain}", f"hostmaster.{self.domain}", serial, *_SOA_TIMERS))
        self.add(self.soa)

    def add(self, record: Record) -> None:
        bucket = self._records.setdefault(record.name, [])
        if record not in bucket:
            bucket.append(record)
        self.add_name(record.name)

    def add_name(self, name: str) -> None:
        """Make ``name`` (and the empty non-terminals above it) exist, records or not."""
        while name.endswith("." + self.domain):
            self._names.add(name)
            name = name.partition(".")[2]

    def has(self, name: str, rtype: str) -> bool:
        return any(r.rtype == rtype for r in self._records.get(normalize(name), ()))

    def owns(self, name: str) -> bool:
        """True for names this zone is authoritative for (answered here, never forwarded)."""
        name = normalize(name)
        return name == self.domain or name.endswith("." + self.domain) or name in self._records

    def lookup(self, qname: str, qtype: str) -> Answer | None:
        """The answer to ``qname``/``qtype``, or ``None`` for a name to forward upstream."""
        name = normalize(qname)
        if not self.owns(name):
            return None
        found = self._records.get(name, [])
        matches = [r for r in found if qtype in (r.rtype, "ANY")]
        cname = next((r for r in found if r.rtype == "CNAME"), None)
        if cname is not None and qtype not in ("CNAME", "ANY"):
            return Answer("NOERROR", tuple(self._chase(cname, qtype)))
        if matches:
            return Answer("NOERROR", tuple(matches), additional=tuple(self._glue(matches)))
        if name in self._names or name in self._records:
            return Answer("NOERROR", authority=(self.soa,))
        return Answer("NXDOMAIN", authority=(self.soa,))

    def _chase(self, cname: Record, qtype: str) -> list[Record]:
        """The CNAME plus, while the target is ours, what the target answers."""
        chain = [cname]
        target = str(cname.data)
        for _ in range(_MAX_CNAME_HOPS):
            if not (target == self.domain or target.endswith("." + self.domain)):
                break
            records = self._records.get(target, [])
            following = next((r for r in records if r.rtype == "CNAME"), None)
            if following is None:
                chain += [r for r in records if r.rtype == qtype]
                break
            if following in chain:
                break  # a loop of ExternalNames: stop at the repeat
            chain.append(following)
            target = str(following.data)
        return chain

    def _glue(self, records: list[Record]) -> list[Record]:
        return [a for r in records if isinstance(r.data, Srv)
                for a in self._records.get(r.data.target, ()) if a.rtype == "A"]


def _ready_endpoints(slices: Iterable[Obj], tolerate_unready: bool) -> list[tuple[str, str | None]]:
    """``(ip, hostname)`` of every ready IPv4 endpoint, once per address."""
    seen: dict[str, str | None] = {}
    for slice_ in slices:
        if slice_.get("addressType", "IPv4") != "IPv4":
            continue
        for endpoint in slice_.get("endpoints") or ():
            ready = (endpoint.get("conditions") or {}).get("ready") is not False
            if not (ready or tolerate_unready):
                continue
            for address in endpoint.get("addresses") or ():
                ip = ipv4(address)
                if ip is not None and seen.get(ip) is None:
                    seen[ip] = endpoint.get("hostname") or None
    return sorted(seen.items())


def _slice_ports(slices: Iterable[Obj]) -> list[tuple[str, str, int]]:
    """``(name, protocol, port)`` of the slices' named ports."""
    ports = {(str(p["name"]), str(p.get("protocol") or "TCP"), int(p["port"]))
             for s in slices for p in s.get("ports") or () if p.get("name") and p.get("port")}
    return sorted(ports)


def _srv_name(port_name: str, protocol: str, base: str) -> str:
    return f"_{port_name}._{protocol}.{base}".lower()


class _Builder:
    def __init__(self, zone: Zone, domain: str, slices: Mapping[tuple[str, str], list[Obj]]) -> None:
        self.zone = zone
        self.domain = domain
        self.slices = slices
        self.claimed_ptr: set[str] = set()

    def service(self, service: Obj) -> None:
        meta = service.get("metadata") or {}
        spec = service.get("spec") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        base = f"{name}.{namespace}.svc.{self.domain}".lower()
        if spec.get("type") == "ExternalName":
            if spec.get("externalName"):
                self.zone.add(Record(base, "CNAME", TTL, normalize(str(spec["externalName"]))))
            return
        if spec.get("clusterIP") == "None":
            tolerate = (meta.get("annotations") or {}).get(TOLERATE_UNREADY) == "true"
            self.headless(base, self.slices.get((namespace, name), []), tolerate)
            return
        candidates = [spec.get("clusterIP"), *(spec.get("clusterIPs") or ())]
        ips = [ip for ip in dict.fromkeys(map(ipv4, candidates)) if ip is not None]
        if not ips:
            return
        for ip in ips:
            self.zone.add(Record(base, "A", TTL, ip))
            self.zone.add(Record(reverse_name(ip), "PTR", TTL, base))
        for port in spec.get("ports") or ():
            if port.get("name") and port.get("port"):
                self.zone.add(Record(
                    _srv_name(str(port["name"]), str(port.get("protocol") or "TCP"), base),
                    "SRV", TTL, Srv(0, 100, int(port["port"]), base)))

    def headless(self, base: str, slices: list[Obj], tolerate_unready: bool) -> None:
        self.zone.add_name(base)  # the Service exists even with no ready endpoint
        endpoints = _ready_endpoints(slices, tolerate_unready)
        ports = _slice_ports(slices)
        weight = max(1, 100 // len(endpoints)) if endpoints else 100
        for ip, hostname in endpoints:
            target = f"{(hostname or dashed(ip)).lower()}.{base}"
            self.zone.add(Record(base, "A", HEADLESS_TTL, ip))
            self.zone.add(Record(target, "A", HEADLESS_TTL, ip))
            self.zone.add(Record(reverse_name(ip), "PTR", HEADLESS_TTL, target))
            self.claimed_ptr.add(ip)
            for port_name, protocol, number in ports:
                self.zone.add(Record(_srv_name(port_name, protocol, base), "SRV", HEADLESS_TTL,
                                     Srv(0, weight, number, target)))

    def pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        ip = ipv4(status.get("podIP"))
        if ip is None or spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
            return
        name = f"{dashed(ip)}.{meta.get('namespace')}.pod.{self.domain}".lower()
        self.zone.add(Record(name, "A", TTL, ip))
        if ip not in self.claimed_ptr:
            self.zone.add(Record(reverse_name(ip), "PTR", TTL, name))


def build_zone(services: Iterable[Obj], slices: Iterable[Obj], pods: Iterable[Obj], *,
               domain: str = "cluster.local", dns_ip: str | None = None,
               serial: int = 1) -> Zone:
    """Every record of the cluster; ``dns_ip`` (the DNS Service's) backs the apex NS."""
    domain = normalize(domain)
    zone = Zone(domain, serial)
    zone.add(Record(f"dns-version.{domain}", "TXT", TTL, SCHEMA_VERSION))
    if dns_ip:
        zone.add(Record(domain, "NS", TTL, f"ns.dns.{domain}"))
        zone.add(Record(f"ns.dns.{domain}", "A", TTL, dns_ip))
    builder = _Builder(zone, domain, slices_by_service(slices))
    for service in services:
        builder.service(service)
    for pod in pods:
        builder.pod(pod)
    return zone
