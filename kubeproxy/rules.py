"""The NAT rules for one pod's network namespace, as ``iptables-restore --noflush`` text.

Inside a pod, the only hook a ClusterIP packet passes before it would leave
is nat OUTPUT, so every service lives there: ``K8PY-SERVICES`` (jumped from
OUTPUT, and from PREROUTING where it is harmless) matches ``clusterIP:port``
and jumps to a per-service-port chain ``K8PY-SVC-<hash>``, which picks an
endpoint chain ``K8PY-SEP-<hash>`` at random (``statistic`` with probability
1/n, 1/(n-1), ..., the last rule unconditional, so each endpoint gets an
equal share) and that chain DNATs to ``podIP:targetPort``.  ClientIP session
affinity first sends a client back to the endpoint it used before
(``recent --rcheck``), and every endpoint chain remembers the client
(``recent --set``).

A service port without usable endpoints gets no rule at all: its packets
reach the kubelet's ``K8PY-SERVICE-REJECT`` in filter OUTPUT and are refused
at once, rather than routed towards an address no interface owns.

Rendering is separate from building because what must be written depends on
the namespace: the first write into a fresh sandbox adds the jumps, and
chains of services that went away are flushed and deleted (``-X``).  Chain
names hash the service port (and the endpoint), as upstream does, so a
chain keeps its name -- and its ``recent`` list -- across syncs.  All of it
goes in one ``iptables-restore`` transaction: the namespace never sees a
half-written table, and conntrack keeps established connections on the
endpoints they were DNATed to.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubeproxy.servicemap import Backend, ServicePort

__all__ = ["SERVICES_CHAIN", "JUMP_FROM", "Ruleset", "NatState", "build_ruleset", "render",
           "parse_nat", "service_chain", "endpoint_chain"]

SERVICES_CHAIN = "K8PY-SERVICES"
JUMP_FROM = ("OUTPUT", "PREROUTING")
_OWNED = re.compile(r"^K8PY-(SVC|SEP)-[A-Z2-7]{16}$")
_PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_chain(port: ServicePort) -> str:
    return f"K8PY-SVC-{_hash(port.key + port.protocol)}"


def endpoint_chain(port: ServicePort, backend: Backend) -> str:
    return f"K8PY-SEP-{_hash(port.key + port.protocol + backend.address)}"


def _comment(text: str) -> str:
    """A ``comment`` match; quoted when it has spaces, as iptables-save prints it."""
    return f'-m comment --comment "{text}"' if " " in text else f"-m comment --comment {text}"


@dataclass(frozen=True)
class Ruleset:
    """The chains kube-proxy owns in a namespace and the rules they hold."""

    chains: tuple[str, ...]
    rules: tuple[str, ...]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        text = "\n".join((*self.chains, *self.rules))
        object.__setattr__(self, "digest", hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class NatState:
    """What a namespace's nat table already holds of ours."""

    chains: frozenset[str] = frozenset()
    jumps: frozenset[str] = frozenset()

    @property
    def missing_jumps(self) -> tuple[str, ...]:
        return tuple(c for c in JUMP_FROM if c not in self.jumps)


def _port_rules(port: ServicePort) -> tuple[list[str], list[str]]:
    proto = _PROTOCOLS.get(port.protocol)
    backends = sorted(port.cluster_backends)
    if proto is None or not backends:
        return [], []
    svc = service_chain(port)
    seps = [endpoint_chain(port, b) for b in backends]
    rules = [f"-A {SERVICES_CHAIN} -d {port.cluster_ip}/32 -p {proto} "
             f"{_comment(port.key + ' cluster IP')} -m {proto} --dport {port.port} -j {svc}"]
    if port.affinity_timeout is not None:
        for backend, sep in zip(backends, seps):
            rules.append(f"-A {svc} {_comment(f'{port.key} -> {backend.address}')} -m recent "
                         f"--rcheck --seconds {port.affinity_timeout} --reap --name {sep} "
                         f"--mask 255.255.255.255 --rsource -j {sep}")
    for index, (backend, sep) in enumerate(zip(backends, seps)):
        left = len(backends) - index
        chance = "" if left == 1 else \
            f" -m statistic --mode random --probability {1 / left:.11f}"
        rules.append(f"-A {svc} {_comment(f'{port.key} -> {backend.address}')}{chance} -j {sep}")
    for backend, sep in zip(backends, seps):
        remember = "" if port.affinity_timeout is None else \
            f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource"
        rules.append(f"-A {sep} -p {proto} {_comment(port.key)}{remember} -m {proto} "
                     f"-j DNAT --to-destination {backend.address}")
    return [svc, *seps], rules


def build_ruleset(ports: Iterable[ServicePort]) -> Ruleset:
    """The service chains and rules for ``ports`` (order-stable, so digests compare)."""
    chains: list[str] = []
    rules: list[str] = []
    for port in ports:
        port_chains, port_rules = _port_rules(port)
        chains += port_chains
        rules += port_rules
    return Ruleset(tuple(chains), tuple(rules))


def render(ruleset: Ruleset, state: NatState = NatState()) -> str:
    """The restore text that turns ``state`` into ``ruleset``, touching only our chains.

    Declaring a chain under ``--noflush`` flushes it, so every owned chain is
    declared: current ones are rewritten, stale ones emptied and then deleted
    after nothing jumps to them any more.
    """
    wanted = set(ruleset.chains)
    stale = sorted(c for c in state.chains if _OWNED.match(c) and c not in wanted)
    lines = ["*nat", f":{SERVICES_CHAIN} - [0:0]"]
    lines += [f":{chain} - [0:0]" for chain in (*ruleset.chains, *stale)]
    lines += [f"-I {builtin} 1 -j {SERVICES_CHAIN}" for builtin in state.missing_jumps]
    lines += ruleset.rules
    lines += [f"-X {chain}" for chain in stale]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def parse_nat(save_text: str) -> NatState:
    """Read our chains and jumps from ``iptables-save -t nat`` output."""
    chains: set[str] = set()
    jumps: set[str] = set()
    for line in save_text.splitlines():
        if line.startswith(":K8PY-"):
            chains.add(line[1:].split(" ", 1)[0])
        elif line.startswith("-A "):
            parts = line.split()
            if parts[1] in JUMP_FROM and parts[2:] == ["-j", SERVICES_CHAIN]:
                jumps.add(parts[1])
    return NatState(frozenset(chains), frozenset(jumps))
