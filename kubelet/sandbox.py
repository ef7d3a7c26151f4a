"""The pod sandbox: a pause container owning the pod's network namespace and IP.

Every other container of the pod joins the sandbox's network and IPC
namespaces, so the sandbox decides the pod's IP (from the cluster bridge
network's IPAM), its hostname and its published hostPorts.  The kubelet also
writes the pod's ``/etc/hosts`` and ``/etc/resolv.conf`` itself (Kubernetes
does the same) because Docker's embedded DNS on a user-defined network would
otherwise answer every query, and mounts them into each container.

Before any container starts, ``install_service_reject`` puts a
``K8PY-SERVICE-REJECT`` chain into the sandbox's network namespace that
refuses any packet to the service CIDR: kube-proxy's DNAT (nat OUTPUT, which
runs first) rewrites ClusterIP traffic to an endpoint, so what still carries
a ClusterIP at filter OUTPUT has no endpoint and must not leave the pod.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from machinery.commands import run_command

from kubelet.containers import pod_labels
from kubelet.podnetwork import wired_addresses
from kubelet.runtime import LABEL_KIND, LABEL_POD_IP, LABEL_RESTART_COUNT, KIND_SANDBOX, \
    ContainerInfo, DockerRuntime

if TYPE_CHECKING:
    from kubelet.context import SyncContext

__all__ = ["SandboxError", "pod_hostname", "pod_domain", "resolv_conf", "hosts_file",
           "create_sandbox", "start_sandbox", "wired_by_kubelet", "reject_rules", "install_service_reject",
           "wait_for_service_rules", "REJECT_CHAIN", "SERVICES_CHAIN"]

Obj = dict[str, Any]
REJECT_CHAIN = "K8PY-SERVICE-REJECT"
SERVICES_CHAIN = "K8PY-SERVICES"  # kube-proxy's nat chain, jumped from OUTPUT
log = logging.getLogger(__name__)
_MAX_SEARCH = 32


class SandboxError(Exception):
    """The sandbox could not be made safe to run containers in."""


def pod_hostname(pod: Obj) -> str:
    """spec.hostname or the pod name, cut to 63 characters as Kubernetes does."""
    spec = pod.get("spec") or {}
    name = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "pod")
    return name[:63].rstrip("-.") or "pod"


def pod_domain(pod: Obj, cluster_domain: str) -> str:
    """``<subdomain>.<ns>.svc.<domain>`` when spec.subdomain is set, else ``""``."""
    spec = pod.get("spec") or {}
    subdomain = spec.get("subdomain")
    if not subdomain:
        return ""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    return f"{subdomain}.{namespace}.svc.{cluster_domain}"


def _host_resolv(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return servers, searches, options
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, searches, options


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _merge_options(base: list[str], extra: list[Obj]) -> list[str]:
    merged: dict[str, str | None] = {}
    for text in base:
        key, sep, value = text.partition(":")
        merged[key] = value if sep else None
    for option in extra:
        merged[str(option.get("name"))] = (str(option["value"]) if option.get("value") is not None
                                           else None)
    return [k if v is None else f"{k}:{v}" for k, v in merged.items()]


def resolv_conf(pod: Obj, cluster_dns: list[str], cluster_domain: str,
                host_resolv: str = "/etc/resolv.conf") -> str | None:
    """The pod's resolv.conf, or None to keep Docker's (dnsPolicy Default without overrides).

    ClusterFirst without a cluster DNS falls back to Default, as the kubelet does.
    """
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if spec.get("hostNetwork") and policy == "ClusterFirst":
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"
    config = spec.get("dnsConfig") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    if policy == "ClusterFirst":
        servers = list(cluster_dns)
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        # The node's own search domains follow the cluster's, as the kubelet appends them.
        searches += [s for s in _host_resolv(host_resolv)[1] if s not in searches]
        options = ["ndots:5"]
    elif policy == "None":
        servers, searches, options = [], [], []
    else:
        servers, searches, options = _host_resolv(host_resolv)
        if not servers or any(ipaddress.ip_address(s).is_loopback for s in servers if _is_ip(s)):
            # No resolver, or one on the node's loopback (out of the pod's reach):
            # Docker's embedded DNS forwards to the node's, so keep the file Docker writes.
            if not config:
                return None
            servers = []
    servers = (servers + [str(s) for s in config.get("nameservers") or []])[:3]
    for search in config.get("searches") or []:
        if search not in searches:
            searches.append(str(search))
    options = _merge_options(options, config.get("options") or [])
    lines = [f"nameserver {server}" for server in servers]
    if searches:
        lines.append("search " + " ".join(searches[:_MAX_SEARCH]))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts_file(pod: Obj, pod_ip: str, cluster_domain: str) -> str:
    """Kubernetes' managed /etc/hosts: loopback, the pod's own names, then hostAliases."""
    hostname = pod_hostname(pod)
    domain = pod_domain(pod, cluster_domain)
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
             "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    if pod_ip:
        names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
        lines.append(f"{pod_ip}\t{names}")
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        lines += [f"{a.get('ip')}\t" + "\t".join(a.get("hostnames") or []) for a in aliases]
    return "\n".join(lines) + "\n"


def _host_ports(pod: Obj) -> dict[str, Any]:
    ports: dict[str, Any] = {}
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if not port.get("hostPort"):
                continue
            key = f"{port['containerPort']}/{str(port.get('protocol') or 'TCP').lower()}"
            host_ip = port.get("hostIP")
            ports[key] = (host_ip, int(port["hostPort"])) if host_ip else int(port["hostPort"])
    return ports


def wired_by_kubelet(pod: Obj) -> bool:
    """Whether the kubelet may wire this pod's network itself (``kubelet.podnetwork``).

    Not for host-network pods, nor for pods with hostPorts, which Docker publishes
    only for containers on one of its own networks."""
    spec = pod.get("spec") or {}
    return not spec.get("hostNetwork") and not _host_ports(pod)


async def create_sandbox(runtime: DockerRuntime, pod: Obj, *, image: str, attempt: int,
                         cluster_domain: str, pod_ip: str = "",
                         before_start: Callable[[str], None] | None = None) -> str:
    """Create and start the pause container; returns its id.

    With ``pod_ip`` the sandbox starts with no network but loopback, the address
    recorded as a label, for the kubelet to wire (``kubelet.podnetwork``).
    ``before_start`` learns the id between create and start (to expect its start event).
    """
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    extra = {LABEL_KIND: KIND_SANDBOX, LABEL_RESTART_COUNT: str(attempt)}
    if pod_ip:
        extra[LABEL_POD_IP] = pod_ip
    labels = runtime.labels(**pod_labels(pod), **extra)
    host_network = bool(spec.get("hostNetwork"))
    config: dict[str, Any] = {"image": image, "labels": labels}
    if not host_network:
        hostname = pod_hostname(pod)
        domain = pod_domain(pod, cluster_domain)
        if domain and spec.get("setHostnameAsFQDN"):
            config["hostname"] = f"{hostname}.{domain}"[:64]
        else:
            config["hostname"] = hostname
            if domain:
                config["domainname"] = domain
    host: dict[str, Any] = {
        "network_mode": "host" if host_network else "none" if pod_ip else runtime.network,
        "ipc_mode": "host" if spec.get("hostIPC") else "shareable",
        "restart_policy": {"Name": "no"},
        "port_bindings": _host_ports(pod),
    }
    if spec.get("hostPID"):
        host["pid_mode"] = "host"
    sysctls = {str(s.get("name")): str(s.get("value"))
               for s in (spec.get("securityContext") or {}).get("sysctls") or []}
    if sysctls and not host_network:
        host["sysctls"] = sysctls
    if host["port_bindings"]:
        config["ports"] = [tuple(key.split("/")) for key in host["port_bindings"]]
    name = f"k8py_POD_{meta.get('name')}_{meta.get('namespace')}_{meta.get('uid')}_{attempt}"
    sandbox_id = await runtime.create(config, host, name)
    if before_start is not None:
        before_start(sandbox_id)
    await runtime.start(sandbox_id)
    return sandbox_id


async def start_sandbox(ctx: SyncContext, pod: Obj, attempt: int,
                        created: Callable[[str], None]) -> ContainerInfo:
    """Bring a pod's sandbox up until its containers may start in it.

    Create and start it (``created`` learns its id in between), give it its
    address when the kubelet wires the pod itself, fence the service CIDR off,
    and wait a little for kube-proxy's rules where a kube-proxy runs.  Raises
    ``SandboxError``, ``DockerError`` or ``PodNetworkError``; a sandbox already
    created is then the caller's to remove.
    """
    network = ctx.pod_network if wired_by_kubelet(pod) else None
    pod_ip = ""
    sandbox_id = ""

    def on_created(container_id: str) -> None:
        nonlocal sandbox_id
        sandbox_id = container_id
        created(container_id)

    if network is not None:
        pod_ip = await network.allocate(lambda: wired_addresses(ctx.runtime))
    try:
        await create_sandbox(ctx.runtime, pod, image=ctx.config.pod_infra_image,
                             attempt=attempt, cluster_domain=ctx.config.cluster_domain,
                             pod_ip=pod_ip, before_start=on_created)
    finally:
        if network is not None:
            network.settle(pod_ip, created=bool(sandbox_id))
    info = await ctx.runtime.inspect(sandbox_id)
    if info is None or not info.running:
        raise SandboxError("sandbox exited right after it started")
    if network is not None:
        await network.wire(info.pid, sandbox_id, pod_ip)
    if not (pod.get("spec") or {}).get("hostNetwork"):
        await ctx.install_reject(info.pid, ctx.config.service_cluster_ip_range)
        timeout = ctx.config.service_rules_timeout
        if timeout > 0 and ctx.proxy_present() \
                and not await wait_for_service_rules(info.pid, timeout):
            meta = pod.get("metadata") or {}
            log.info("no service rules from kube-proxy in %s/%s after %.1fs; starting its "
                     "containers anyway", meta.get("namespace"), meta.get("name"), timeout)
    return info


def reject_rules(service_cidr: str) -> str:
    """The ``iptables-restore`` input that installs the REJECT chain and the jump to it.

    One ``--noflush`` restore does it all, atomically: the chain is declared
    (so emptied if it exists) and filled, and OUTPUT's first rule jumps to it.
    It is meant for a fresh sandbox, whose filter table Docker leaves empty,
    so the jump is never doubled.
    """
    return (f"*filter\n:{REJECT_CHAIN} - [0:0]\n"
            f"-A {REJECT_CHAIN} -d {service_cidr} -p tcp -j REJECT --reject-with tcp-reset\n"
            f"-A {REJECT_CHAIN} -d {service_cidr} -j REJECT --reject-with icmp-port-unreachable\n"
            f"-I OUTPUT 1 -j {REJECT_CHAIN}\n"
            "COMMIT\n")


async def install_service_reject(pid: int, service_cidr: str) -> None:
    """Install the service-CIDR REJECT chain in the (fresh) network namespace of ``pid``.

    One process per pod (``nsenter`` execs ``iptables-restore``): pods start in
    bursts, and every fork of the kubelet costs the whole node CPU time.
    """
    if pid <= 0:
        raise SandboxError("sandbox has no process to enter")
    code, out = await run_command(["nsenter", "-t", str(pid), "-n", "iptables-restore", "-w",
                                   "--noflush"], stdin=reject_rules(service_cidr).encode())
    if code != 0:
        raise SandboxError(f"cannot install {REJECT_CHAIN} in the pod network namespace "
                           f"(nsenter/iptables-restore exit {code}): {out}")


async def wait_for_service_rules(pid: int, timeout: float, interval: float = 0.05,
                                 max_interval: float = 0.2) -> bool:
    """Wait up to ``timeout`` s for kube-proxy's first rules in the namespace of ``pid``.

    kube-proxy jumps to its ``K8PY-SERVICES`` nat chain from OUTPUT when it first
    writes a sandbox, so once the jump exists the app's first connection to a
    ClusterIP is DNATed rather than refused by the REJECT chain.  False on
    timeout: the pod starts anyway, still protected by the REJECT.  Each look
    is a process, so the interval grows from ``interval`` to ``max_interval``:
    a quick kube-proxy is seen at once, a slow one does not cost a fork storm.
    Callers only wait where a kube-proxy runs (``machinery.presence``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        code, _ = await run_command(["nsenter", "-t", str(pid), "-n", "iptables", "-w", "-t",
                                     "nat", "-C", "OUTPUT", "-j", SERVICES_CHAIN])
        if code == 0:
            return True
        left = deadline - loop.time()
        if left <= 0:
            return False
        await asyncio.sleep(min(interval, left))
        interval = min(max_interval, interval * 1.5)
