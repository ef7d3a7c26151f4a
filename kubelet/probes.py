"""Liveness, readiness and startup probes, and the handlers lifecycle hooks share.

One worker task per (running container, probe kind) probes on its period
with Kubernetes' defaults (period 10 s, timeout 1 s, success threshold 1,
failure threshold 3, no initial delay) and flips a result only after the
threshold of consecutive outcomes.  Liveness and readiness wait until the
startup probe (if any) has succeeded.  A failed liveness or startup probe is
not acted on here: the worker records why, stops, and wakes the pod worker,
which kills and restarts the container under its restart policy.

Probes reach the pod from the kubelet: exec through Docker, HTTP and TCP to
the pod IP on the cluster bridge (reachable from the host in process mode,
and from the node container, which is on that network, in compose mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from kubelet.runtime import DockerRuntime
from machinery.events import WARNING, EventRecorder
from machinery.meta import parse_time

__all__ = ["run_handler", "ProbeManager", "resolve_port", "LIVENESS", "READINESS", "STARTUP"]

Obj = dict[str, Any]
LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
_MAX_OUTPUT = 10 * 1024
log = logging.getLogger(__name__)


def resolve_port(container: Obj, port: Any) -> int:
    """A probe/hook port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"couldn't find port {port!r} in the container's ports")


async def _http_get(action: Obj, container: Obj, pod_ip: str, timeout: float) -> tuple[bool, str]:
    scheme = str(action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(container, action.get("port"))
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    headers.update({str(h.get("name")): str(h.get("value"))
                    for h in action.get("httpHeaders") or []})
    try:
        async with httpx.AsyncClient(verify=False, timeout=timeout,
                                     follow_redirects=False) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return False, f'Get "{url}": {exc or type(exc).__name__}'
    if 200 <= response.status_code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {response.status_code}"


async def _tcp(action: Obj, container: Obj, pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = action.get("host") or pod_ip
    port = resolve_port(container, action.get("port"))
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return False, f"dial tcp {host}:{port}: {exc or 'i/o timeout'}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def run_handler(runtime: DockerRuntime, action: Obj, container: Obj, container_id: str,
                      pod_ip: str, timeout: float) -> tuple[bool, str]:
    """Run one probe or hook action; (succeeded, message)."""
    try:
        if action.get("exec"):
            command = [str(c) for c in action["exec"].get("command") or []]
            code, output = await runtime.exec(container_id, command, timeout)
            return code == 0, output[:_MAX_OUTPUT].strip()
        if action.get("httpGet"):
            return await _http_get(action["httpGet"], container, pod_ip, timeout)
        if action.get("tcpSocket"):
            return await _tcp(action["tcpSocket"], container, pod_ip, timeout)
        if action.get("sleep"):
            await asyncio.sleep(float(action["sleep"].get("seconds") or 0))
            return True, ""
        if action.get("grpc"):
            return False, "grpc probes are not supported by k8py"
    except ValueError as exc:
        return False, str(exc)
    return False, "missing probe handler"


@dataclass
class _Worker:
    kind: str
    pod: Obj
    container: Obj
    container_id: str
    started_at: str | None
    pod_ip: str
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ProbeManager:
    def __init__(self, runtime: DockerRuntime, recorder: EventRecorder,
                 on_change: Callable[[str], None], *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.on_change = on_change
        self.sleep = sleep  # injected so tests need not wait out probe periods
        self._workers: dict[tuple[str, str], _Worker] = {}
        self._results: dict[tuple[str, str], bool] = {}
        self._kill: dict[str, str] = {}
        self._ids: dict[str, set[str]] = {}  # pod uid -> container ids with probe state

    # -- results the pod worker reads ---------------------------------------------------

    def ready(self, container: Obj, container_id: str) -> bool:
        """Readiness of a running container: its probe's verdict, else whether it started."""
        if not self.started(container, container_id):
            return False
        if not container.get("readinessProbe"):
            return True
        return self._results.get((container_id, READINESS), False)

    def started(self, container: Obj, container_id: str) -> bool:
        if not container.get("startupProbe"):
            return True
        return self._results.get((container_id, STARTUP), False)

    def kill_reason(self, container_id: str) -> str | None:
        """Why a running container must be restarted (failed liveness/startup), if it must."""
        return self._kill.get(container_id)

    def seed_ready(self, container_id: str) -> None:
        """Keep a container Ready across a kubelet restart until its probe says otherwise."""
        self._results.setdefault((container_id, READINESS), True)
        self._results.setdefault((container_id, STARTUP), True)

    # -- worker lifecycle -----------------------------------------------------------------

    def update(self, pod: Obj, running: list[tuple[Obj, str, str | None]], pod_ip: str) -> None:
        """Probe exactly these running containers ((spec, id, startedAt) of one pod)."""
        uid = str((pod.get("metadata") or {}).get("uid"))
        wanted: set[tuple[str, str]] = set()
        for container, container_id, started_at in running:
            self._ids.setdefault(uid, set()).add(container_id)
            for kind, field_name in _FIELDS.items():
                if not container.get(field_name) or container_id in self._kill:
                    continue
                if kind == STARTUP and self._results.get((container_id, STARTUP)):
                    continue
                key = (container_id, kind)
                wanted.add(key)
                if key not in self._workers:
                    worker = _Worker(kind, pod, container, container_id, started_at, pod_ip)
                    worker.task = asyncio.get_running_loop().create_task(
                        self._run(worker, uid), name=f"probe-{kind}-{container_id[:12]}")
                    self._workers[key] = worker
        for key in [k for k, w in self._workers.items()
                    if k not in wanted and _uid(w.pod) == uid]:
            self._stop(key)

    def _stop(self, key: tuple[str, str]) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None and worker.task is not None:
            worker.task.cancel()

    def forget_container(self, container_id: str) -> None:
        for key in [k for k in self._workers if k[0] == container_id]:
            self._stop(key)
        for key in [k for k in self._results if k[0] == container_id]:
            del self._results[key]
        self._kill.pop(container_id, None)

    def forget_pod(self, uid: str) -> None:
        ids = self._ids.pop(uid, set())
        ids |= {k[0] for k, w in self._workers.items() if _uid(w.pod) == uid}
        for container_id in ids:
            self.forget_container(container_id)

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    # -- one worker -------------------------------------------------------------------------

    async def _run(self, w: _Worker, uid: str) -> None:
        probe = w.container.get(_FIELDS[w.kind]) or {}
        period = max(1, int(probe.get("periodSeconds") or 10))
        timeout = max(1, int(probe.get("timeoutSeconds") or 1))
        success_threshold = max(1, int(probe.get("successThreshold") or 1))
        failure_threshold = max(1, int(probe.get("failureThreshold") or 3))
        delay = float(probe.get("initialDelaySeconds") or 0)
        if w.started_at:  # the initial delay counts from the container's start
            delay = max(0.0, delay - _age(w.started_at))
        await self.sleep(delay)
        successes = failures = 0
        name = str(w.container.get("name"))
        while True:
            if w.kind != STARTUP and not self.started(w.container, w.container_id):
                await self.sleep(period)
                continue
            ok, message = await run_handler(self.runtime, probe, w.container, w.container_id,
                                            w.pod_ip, timeout)
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.recorder.event(w.pod, WARNING, "Unhealthy",
                                    f"{w.kind.capitalize()} probe failed: {message}",
                                    field_path=_field_path(w.pod, name))
            key = (w.container_id, w.kind)
            previous = self._results.get(key)
            if ok and successes >= success_threshold and previous is not True:
                self._results[key] = True
                self.on_change(uid)
                if w.kind == STARTUP:
                    return
            elif not ok and failures >= failure_threshold:
                if w.kind in (LIVENESS, STARTUP):
                    self._kill[w.container_id] = (f"Container {name} failed {w.kind} probe, "
                                                  "will be restarted")
                    self._workers.pop(key, None)
                    self.on_change(uid)
                    return
                if previous is not False:
                    self._results[key] = False
                    self.on_change(uid)
            await self.sleep(period)


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid"))


def _age(started_at: str) -> float:
    return (datetime.now(timezone.utc) - parse_time(started_at)).total_seconds()


def _field_path(pod: Obj, name: str) -> str:
    spec = pod.get("spec") or {}
    if any(c.get("name") == name for c in spec.get("initContainers") or []):
        return f"spec.initContainers{{{name}}}"
    return f"spec.containers{{{name}}}"
