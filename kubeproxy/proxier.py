"""The proxier: keeps every sandbox's NAT rules and the node's listeners in step with the API.

Level-triggered like upstream's ``iptables.Proxier.syncProxyRules``: any
change (a Service or EndpointSlice event, a sandbox starting) only wakes one
sync loop, and each sync recomputes everything from the informer caches --
the ruleset once for the node, then each sandbox whose namespace does not
hold it yet, then the userspace listeners.  A burst of changes is coalesced
into one sync about 50 ms after the first, so a rollout of many endpoints
costs a handful of writes while a single change still applies well within a
second.  Nothing is written before both caches have synced, so a restarted
kube-proxy never replaces working rules with an empty view.

A periodic resync re-lists the sandboxes from Docker (covering Docker events
lost while the stream reconnected) and re-checks every listener.  Docker
events arrive on a thread of their own and are handed to the event loop.
Failed writes are retried a second later.  Stopping leaves every rule in
place, as upstream does: pods keep working while kube-proxy restarts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from kubeproxy.netns import RuleWriter, Sandbox, SandboxSource
from kubeproxy.rules import Ruleset, build_ruleset
from kubeproxy.servicemap import ServicePort, service_ports
from kubeproxy.userspace import Listeners, listener_plan
from machinery.client import ApiClient
from machinery.component import Health
from machinery.informer import Informer

__all__ = ["ProxyConfig", "Proxier"]

log = logging.getLogger(__name__)

SYNC_SECONDS = Histogram("k8py_kubeproxy_sync_proxy_rules_duration_seconds",
                         "Time one sync of rules and listeners took",
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
LAST_SYNC = Gauge("k8py_kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                  "Unix time of the last completed sync")
RULE_WRITES = Counter("k8py_kubeproxy_netns_rule_writes_total",
                      "iptables-restore runs inside pod network namespaces", ["result"])
SANDBOXES = Gauge("k8py_kubeproxy_sandboxes", "Pod sandboxes whose namespaces this node serves")
SERVICE_PORTS = Gauge("k8py_kubeproxy_service_ports", "Service ports known, by endpoints",
                      ["endpoints"])
LISTENERS = Gauge("k8py_kubeproxy_listeners", "Open NodePort/LoadBalancer listeners")
_RETRY_AFTER = 1.0


@dataclass
class ProxyConfig:
    node_name: str
    node_ip: str = "127.0.0.1"
    cluster_name: str = "k8py"
    docker_host: str = "unix:///var/run/docker.sock"
    service_cluster_ip_range: str = "10.96.0.0/12"
    sync_period: float = 30.0
    min_sync_interval: float = 0.05


class Proxier:
    def __init__(self, client: ApiClient, config: ProxyConfig, *,
                 source: SandboxSource | None = None, writer: RuleWriter | None = None,
                 listeners: Listeners | None = None) -> None:
        self.config = config
        self.source = source or SandboxSource(config.docker_host, config.cluster_name,
                                              config.node_name)
        self.writer = writer or RuleWriter()
        self.listeners = listeners or Listeners()
        self.services = Informer(client, "services")
        self.slices = Informer(client, "endpointslices")
        for informer in (self.services, self.slices):
            informer.add_handler(on_add=self.request_sync,
                                 on_update=lambda _old, _new: self.request_sync(),
                                 on_delete=self.request_sync)
        self.sandboxes: dict[str, Sandbox] = {}
        self._service_cidr = ipaddress.ip_network(config.service_cluster_ip_range, strict=False)
        self._outside_cidr: set[str] = set()
        self._started: set[str] = set()
        self._relist = True
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self.synced_once = False
        self.last_sync = time.monotonic()

    # -- health --------------------------------------------------------------------------

    def add_checks(self, health: Health) -> None:
        stale_after = max(60.0, 3 * self.config.sync_period)
        # Once syncing, the loop passes at least every sync period, API server or not.
        health.add_check("sync-loop", lambda: not self.synced_once
                         or time.monotonic() - self.last_sync < stale_after)
        health.add_check("informers", lambda: self.services.has_synced()
                         and self.slices.has_synced(), ready_only=True)
        health.add_check("rules-synced", lambda: self.synced_once, ready_only=True)

    # -- wake-ups ------------------------------------------------------------------------

    def request_sync(self, *_: Any) -> None:
        self._wake.set()

    def _sandbox_event(self, action: str, container_id: str) -> None:
        if action == "start":
            self._started.add(container_id)
            self.request_sync()
        else:  # die, destroy: the namespace and its rules are gone with the process
            self._started.discard(container_id)
            self.sandboxes.pop(container_id, None)
            self.writer.forget(container_id)

    def _relist_soon(self) -> None:
        self._relist = True
        self.request_sync()

    def _watch_docker(self) -> None:
        """Thread body: hand sandbox start/die events to the loop, reconnecting on errors."""
        loop = self._loop
        assert loop is not None
        while not self._stopping.is_set():
            try:
                events = self.source.events()
                # Subscribed: a listing from now on cannot miss a sandbox.
                loop.call_soon_threadsafe(self._relist_soon)
                for action, container_id in events:
                    loop.call_soon_threadsafe(self._sandbox_event, action, container_id)
            except Exception as exc:
                if self._stopping.is_set():
                    return
                log.warning("docker event stream broke: %s; reconnecting", exc)
            if not self._stopping.is_set():
                time.sleep(1.0)

    # -- syncing -------------------------------------------------------------------------

    async def _refresh_sandboxes(self) -> None:
        if self._relist:
            self._relist = False
            self._started.clear()
            self.sandboxes = await self.source.running()
            self.writer.retain(set(self.sandboxes))
        started, self._started = self._started, set()
        for sandbox in await asyncio.gather(*(self.source.inspect(i) for i in started)):
            if sandbox is not None:
                self.sandboxes[sandbox.id] = sandbox
        SANDBOXES.set(len(self.sandboxes))

    async def _apply(self, sandbox: Sandbox, ruleset: Ruleset) -> tuple[bool, bool]:
        """Write one namespace: (done or not worth retrying, written)."""
        try:
            changed = await self.writer.apply(sandbox, ruleset)
        except OSError as exc:
            RULE_WRITES.labels("error").inc()
            if await self.source.inspect(sandbox.id) is None:
                self.sandboxes.pop(sandbox.id, None)  # died meanwhile; nothing to protect
                return True, False
            log.warning("%s", exc)
            return False, False
        if changed:
            RULE_WRITES.labels("ok").inc()
        return True, changed

    def _check_cidr(self, ports: list[ServicePort]) -> None:
        for port in ports:
            if port.key not in self._outside_cidr and \
                    ipaddress.ip_address(port.cluster_ip) not in self._service_cidr:
                self._outside_cidr.add(port.key)
                log.warning("service %s has cluster IP %s outside %s: pods are not protected "
                            "from sending it off-cluster when it has no endpoints",
                            port.key, port.cluster_ip, self._service_cidr)

    async def sync(self) -> None:
        """One full pass: sandboxes, their rules, then listeners."""
        started = time.monotonic()
        await self._refresh_sandboxes()
        ports = service_ports(self.services.list(), self.slices.list(), self.config.node_name)
        self._check_cidr(ports)
        ruleset = build_ruleset(ports)
        sandboxes = list(self.sandboxes.values())
        outcomes = await asyncio.gather(*(self._apply(s, ruleset) for s in sandboxes))
        results = [ok for ok, _ in outcomes]
        written = [changed for _, changed in outcomes]
        await self.listeners.update(listener_plan(ports, self.config.node_ip))
        with_endpoints = sum(1 for p in ports if p.cluster_backends)
        SERVICE_PORTS.labels("some").set(with_endpoints)
        SERVICE_PORTS.labels("none").set(len(ports) - with_endpoints)
        LISTENERS.set(len(self.listeners.open))
        SANDBOXES.set(len(self.sandboxes))
        if not all(results):
            assert self._loop is not None
            self._loop.call_later(_RETRY_AFTER, self.request_sync)
        elapsed = time.monotonic() - started
        SYNC_SECONDS.observe(elapsed)
        LAST_SYNC.set(time.time())
        self.last_sync = time.monotonic()
        log.debug("synced %d service ports (%d with endpoints), %d/%d namespaces written, "
                  "%d listeners in %.3fs", len(ports), with_endpoints, sum(written),
                  len(sandboxes), len(self.listeners.open), elapsed)
        if not self.synced_once:
            log.info("first sync done: %d service ports, %d sandboxes, %d listeners in %.3fs",
                     len(ports), len(sandboxes), len(self.listeners.open), elapsed)
        self.synced_once = True

    async def _wait_for_caches(self) -> None:
        while not (await self.services.wait_for_sync(10) and await self.slices.wait_for_sync(10)):
            log.info("waiting for the service and endpointslice caches to sync")

    async def run(self) -> None:
        """Sync until cancelled; rules stay in place afterwards."""
        loop = self._loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._watch_docker, name="docker-events", daemon=True)
        try:
            await self.services.start()
            await self.slices.start()
            thread.start()
            await self._wait_for_caches()
            next_resync = time.monotonic() + self.config.sync_period
            while True:
                self._wake.clear()  # before syncing: a change during the sync wakes the next
                try:
                    await self.sync()
                except Exception as exc:  # Docker unreachable, say: keep the loop, retry
                    log.warning("sync failed: %s; retrying", exc, exc_info=exc)
                    self._relist = True
                    loop.call_later(_RETRY_AFTER, self.request_sync)
                try:
                    await asyncio.wait_for(self._wake.wait(),
                                           max(0.0, next_resync - time.monotonic()))
                except TimeoutError:
                    pass
                if time.monotonic() >= next_resync:
                    self._relist = True
                    next_resync = time.monotonic() + self.config.sync_period
                await asyncio.sleep(self.config.min_sync_interval)  # let a burst gather
        finally:
            self._stopping.set()
            await self.listeners.close_all()
            await self.services.stop()
            await self.slices.stop()
            self.source.close()
