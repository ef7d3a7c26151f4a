"""This node's pod sandboxes, found through Docker, and rule writes into their namespaces.

The kubelet labels every sandbox (``io.k8py.cluster``, ``io.k8py.node``,
``io.k8py.kind=sandbox``), so Docker alone says which network namespaces
this kube-proxy serves; a sandbox's main PID is the door into its namespace
(``nsenter -t <pid> -n``).  Sandboxes on the host network are skipped: their
"namespace" is the machine's own, and kube-proxy must never rewrite that.

Writes are ``iptables-restore -w --noflush`` with the whole ruleset, so a
namespace switches atomically; the ``iptables`` binary is the one on PATH,
the same the kubelet installed the REJECT chain with (mixing the nft and
legacy variants in one namespace would split the tables).  Each sandbox
remembers the digest of the ruleset last written and the chains it left, so
an unchanged ruleset costs nothing and a changed one deletes exactly the
chains that went stale.  Docker SDK calls block, so they run on a small
thread pool; ``nsenter`` runs as an asyncio subprocess.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.errors

from machinery.commands import run_command

from kubeproxy.rules import JUMP_FROM, SERVICES_CHAIN, NatState, Ruleset, parse_nat, render

__all__ = ["Sandbox", "SandboxSource", "RuleWriter", "LABEL_CLUSTER", "LABEL_NODE",
           "LABEL_KIND", "KIND_SANDBOX"]

LABEL_CLUSTER = "io.k8py.cluster"
LABEL_NODE = "io.k8py.node"
LABEL_KIND = "io.k8py.kind"
LABEL_NAMESPACE = "io.k8py.namespace"
LABEL_POD = "io.k8py.pod"
KIND_SANDBOX = "sandbox"
_EVENTS = ("start", "die", "destroy")
_COMMAND_TIMEOUT = 20.0
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sandbox:
    """A running pod sandbox that owns a network namespace."""

    id: str
    pid: int
    pod: str  # namespace/name, for logs

    @classmethod
    def from_inspect(cls, data: dict[str, Any]) -> Sandbox | None:
        state = data.get("State") or {}
        host = data.get("HostConfig") or {}
        labels = (data.get("Config") or {}).get("Labels") or {}
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0 or host.get("NetworkMode") == "host":
            return None
        return cls(str(data["Id"]), pid,
                   f"{labels.get(LABEL_NAMESPACE, '')}/{labels.get(LABEL_POD, '')}")


class SandboxSource:
    """This node's running sandboxes, read from one Docker engine."""

    def __init__(self, base_url: str, cluster: str, node: str, *,
                 client: docker.DockerClient | None = None) -> None:
        self.client = client or docker.DockerClient(base_url=base_url, timeout=30)
        self._labels = [f"{LABEL_CLUSTER}={cluster}", f"{LABEL_NODE}={node}",
                        f"{LABEL_KIND}={KIND_SANDBOX}"]
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="docker")
        self._stream: Any = None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def inspect(self, container_id: str) -> Sandbox | None:
        try:
            data = await self._call(self.client.api.inspect_container, container_id)
        except docker.errors.NotFound:
            return None
        return Sandbox.from_inspect(data)

    async def running(self) -> dict[str, Sandbox]:
        rows = await self._call(self.client.api.containers, filters={
            "label": self._labels, "status": "running"})
        found = await asyncio.gather(*(self.inspect(str(row["Id"])) for row in rows))
        return {sandbox.id: sandbox for sandbox in found if sandbox is not None}

    def events(self) -> Iterator[tuple[str, str]]:
        """Blocking: subscribe now, then ``(action, container id)`` of sandboxes starting and dying.

        The subscription exists when this returns, so a listing made afterwards
        misses nothing.  Iterate on a thread of its own; ``close`` ends it.
        """
        self._stream = self.client.api.events(decode=True, filters={
            "type": "container", "event": list(_EVENTS), "label": self._labels})
        return self._parse(self._stream)

    @staticmethod
    def _parse(stream: Iterator[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for event in stream:
            action = str(event.get("Action") or event.get("status") or "")
            container = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
            if action in _EVENTS and container:
                yield action, container

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # closing a broken stream can raise anything
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


@dataclass(frozen=True)
class _Written:
    pid: int
    digest: str
    chains: frozenset[str]


class RuleWriter:
    """Brings each sandbox's nat table to the current ruleset, only when it differs."""

    def __init__(self, *, iptables_restore: str = "iptables-restore",
                 iptables_save: str = "iptables-save", concurrency: int = 8) -> None:
        self.restore = iptables_restore
        self.save = iptables_save
        self._written: dict[str, _Written] = {}
        self._limit = asyncio.Semaphore(concurrency)

    def forget(self, sandbox_id: str) -> None:
        self._written.pop(sandbox_id, None)

    def retain(self, sandbox_ids: set[str]) -> None:
        for gone in set(self._written) - sandbox_ids:
            del self._written[gone]

    def current(self, sandbox: Sandbox, ruleset: Ruleset) -> bool:
        written = self._written.get(sandbox.id)
        return written is not None and written.pid == sandbox.pid \
            and written.digest == ruleset.digest

    async def _state(self, sandbox: Sandbox) -> NatState:
        written = self._written.get(sandbox.id)
        if written is not None and written.pid == sandbox.pid:
            return NatState(written.chains, frozenset(JUMP_FROM))
        code, out = await run_command(
            ["nsenter", "-t", str(sandbox.pid), "-n", self.save, "-t", "nat"],
            timeout=_COMMAND_TIMEOUT, separate_stderr=True)
        return parse_nat(out) if code == 0 else NatState()

    async def apply(self, sandbox: Sandbox, ruleset: Ruleset) -> bool:
        """Write ``ruleset`` into the sandbox's namespace; True if anything was written.

        Raises ``OSError`` when the write failed (the sandbox may have died).
        """
        if self.current(sandbox, ruleset):
            return False
        async with self._limit:
            state = await self._state(sandbox)
            text = render(ruleset, state)
            code, out = await run_command(
                ["nsenter", "-t", str(sandbox.pid), "-n", self.restore, "-w", "--noflush"],
                stdin=text.encode(), timeout=_COMMAND_TIMEOUT, separate_stderr=True)
        if code != 0:
            self._written.pop(sandbox.id, None)
            raise OSError(f"iptables-restore in {sandbox.pod} (pid {sandbox.pid}) "
                          f"exited {code}: {out}")
        self._written[sandbox.id] = _Written(
            sandbox.pid, ruleset.digest, frozenset((SERVICES_CHAIN, *ruleset.chains)))
        return True
