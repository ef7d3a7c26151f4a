"""One pass of bringing a pod's Docker containers in line with its spec.

Level-triggered like the rest of k8py: each pass reads the pod's containers
from Docker (by the pod-uid label), decides from that alone what is missing,
and does the next steps -- sandbox first (with the service REJECT rule),
then volumes, then the first unfinished init container, then every app
container that should run.  Restarts go through the crash-loop back-off;
whatever cannot proceed leaves a waiting reason (``CrashLoopBackOff``,
``ErrImagePull``, ``CreateContainerConfigError`` ...) for the status and asks
to be called again when its back-off ends.  ``kill_pod`` and ``remove_pod``
are the way down, used on deletion and for pods nobody owns any more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from kubelet.containers import ContainerSetup, docker_args, spec_hash
from kubelet.context import SyncContext
from kubelet.env import ConfigError, container_env, service_env
from kubelet.images import image_ref
from kubelet.lifecycle import all_specs, field_path, observe, stop_container
from kubelet.podnetwork import PodNetworkError, is_wired
from kubelet.probes import run_handler
from kubelet.runtime import KIND_APP, KIND_INIT, ContainerInfo, DockerError
from kubelet.sandbox import SandboxError, hosts_file, resolv_conf, start_sandbox
from kubelet.status import PodView, container_restart_policy, is_sidecar, should_restart
from kubelet.volumes import MountError, VolumeSource
from machinery.events import NORMAL, WARNING
from machinery.meta import parse_time

__all__ = ["Observation", "PodState", "PodSyncer", "go_duration"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)
_VOLUME_REFRESH = 5.0


def go_duration(seconds: float) -> str:
    """Seconds as Go prints a Duration (``10s``, ``1m20s``, ``5m0s``)."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"


Observation = tuple[list[ContainerInfo], dict[str, list[ContainerInfo]]]


@dataclass
class PodState:
    """What the kubelet remembers about one pod between passes (lost on restart, harmlessly)."""

    uid: str
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    retry: float | None = None
    messages: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, VolumeSource] | None = None
    volumes_at: float = 0.0
    last_status: Obj | None = None
    # What the last pass left in Docker, when it knows for sure: the status needs no relisting.
    observed: Observation | None = None
    # Docker events this kubelet caused itself (container id, action): no reason to wake.
    expected: set[tuple[str, str]] = field(default_factory=set)

    def retry_in(self, seconds: float) -> None:
        seconds = max(0.5, seconds)
        self.retry = seconds if self.retry is None else min(self.retry, seconds)

    def expect(self, container_id: str, action: str) -> None:
        self.expected.add((container_id, action))

    def expected_event(self, container_id: str, action: str) -> bool:
        """True (once) for an event announced with ``expect``."""
        try:
            self.expected.remove((container_id, action))
        except KeyError:
            return False
        return True


def _pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


def _when(stamp: str | None) -> float:
    return parse_time(stamp).timestamp() if stamp else time.time()


class PodSyncer:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self._image_refs: dict[str, str] = {}

    # -- observation ------------------------------------------------------------------------

    async def view(self, pod: Obj, state: PodState, *, terminal: bool = False) -> PodView:
        observed, state.observed = state.observed, None
        sandboxes, instances = observed or await observe(self.ctx.runtime, state.uid)
        sandbox = sandboxes[0] if sandboxes else None
        specs = all_specs(pod)
        for name, infos in instances.items():
            for info in infos[:2]:
                if info.exited and info.id not in state.messages:
                    state.messages[info.id] = await self._termination_message(
                        state.uid, specs.get(name) or {}, info)
            for info in infos[:1]:
                if info.image_id and info.image_id not in self._image_refs:
                    image = await self.ctx.runtime.image(info.image_id)
                    self._image_refs[info.image_id] = image_ref(image) if image else info.image_id
        probes = self.ctx.probes
        return PodView(pod, sandbox, instances, dict(state.waiting), ready=probes.ready,
                       started=probes.started,
                       image_ref=lambda i: self._image_refs.get(i, i),
                       messages=state.messages, terminal=terminal)

    async def _termination_message(self, uid: str, spec: Obj, info: ContainerInfo) -> str:
        message = self.ctx.volumes.read_termination_log(uid, info.container_name,
                                                        info.restart_count)
        if (not message and info.exit_code != 0
                and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError"):
            message = (await self.ctx.runtime.logs_tail(info.id, 80))[-2048:]
        return message

    # -- the pass ---------------------------------------------------------------------------

    async def sync(self, pod: Obj, state: PodState) -> None:
        """Take every step the pod needs now; ``state.retry`` says when to come back.

        A pass that knows exactly what it changed (sandboxes and containers it
        made, each inspected once started) leaves its view in ``state.observed``
        for the status, sparing Docker a relisting of the pod: on a busy node,
        Docker round trips are what pod startup waits for.
        """
        state.retry = None
        state.observed = None
        sandboxes, instances = await observe(self.ctx.runtime, state.uid)
        spec = pod.get("spec") or {}
        sandbox = sandboxes[0] if sandboxes and sandboxes[0].running else None
        if sandbox is not None and not is_wired(sandbox):
            log.warning("sandbox %s of %s has no network (its kubelet stopped before wiring "
                        "it); replacing it", sandbox.id[:12], _pod_ref(pod))
            await self.ctx.runtime.stop(sandbox.id, 0)
            sandbox = None
        if sandbox is not None:
            await self._advance(pod, state, sandboxes, instances)
        elif not _needs_sandbox(spec, instances):
            state.observed = (sandboxes, instances)
        else:
            # The pod (re)starts: only so many at once, first come first served.  Docker
            # serves a burst of starts no faster all at once, but in turn the first pods run
            # in a second or two instead of every pod waiting for the whole burst.
            async with self.ctx.start_slots:
                stopped = any(infos[0].running for infos in instances.values())
                sandbox = await self._new_sandbox(pod, state, sandboxes, instances)
                if sandbox is None:
                    return
                if stopped:
                    instances = (await observe(self.ctx.runtime, state.uid))[1]
                await self._advance(pod, state, [sandbox, *sandboxes], instances)

    async def _advance(self, pod: Obj, state: PodState, sandboxes: list[ContainerInfo],
                       instances: dict[str, list[ContainerInfo]]) -> None:
        """The rest of a pass, in the running sandbox ``sandboxes[0]``."""
        spec = pod.get("spec") or {}
        sandbox = sandboxes[0]
        if _apps_finished(spec, instances):
            if not await self._stop_sidecars(pod, instances):
                state.observed = (sandboxes, instances)
            return
        pod_ip = self.ctx.config.node_ip if spec.get("hostNetwork") else sandbox.ip
        volumes = await self._volumes(pod, state)
        if volumes is None:
            return
        step = _Pass(pod, state, sandbox.id, volumes, self._pod_files(pod, pod_ip), pod_ip,
                     instances)
        long_running = [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
        long_running += spec.get("containers") or []
        self.ctx.probes.update(pod, [(c, i[0].id, i[0].started_at) for c in long_running
                                     if (i := instances.get(str(c.get("name"))))
                                     and i[0].running], pod_ip)
        for container in spec.get("initContainers") or []:
            if not await self._step(step, container, KIND_INIT,
                                    list(instances.get(str(container.get("name"))) or [])):
                break
        else:
            for container in spec.get("containers") or []:
                await self._step(step, container, KIND_APP,
                                 list(instances.get(str(container.get("name"))) or []))
        if step.exact:
            state.observed = (sandboxes, instances)

    async def _new_sandbox(self, pod: Obj, state: PodState, sandboxes: list[ContainerInfo],
                           instances: dict[str, list[ContainerInfo]]) -> ContainerInfo | None:
        ctx = self.ctx
        grace = _grace(pod)
        if sandboxes:
            ctx.recorder.event(pod, NORMAL, "SandboxChanged",
                               "Pod sandbox changed, it will be killed and re-created.")
        # Containers left in a dead sandbox's namespaces go with it, as in Kubernetes.
        await asyncio.gather(*(stop_container(ctx, pod, infos[0], grace)
                               for infos in instances.values() if infos[0].running))
        attempt = sandboxes[0].restart_count + 1 if sandboxes else 0
        sandbox_id = ""

        def created(container_id: str) -> None:
            nonlocal sandbox_id
            sandbox_id = container_id  # removed below if it fails to start
            state.expect(container_id, "start")

        try:
            info = await start_sandbox(ctx, pod, attempt, created)
        except (DockerError, SandboxError, PodNetworkError) as exc:
            ctx.recorder.event(pod, WARNING, "FailedCreatePodSandBox",
                               f"Failed to create pod sandbox: {exc}")
            if sandbox_id:
                state.expected.discard((sandbox_id, "start"))
                await ctx.runtime.remove(sandbox_id)
            for container in all_specs(pod):
                state.waiting[container] = ("ContainerCreating", "")
            state.retry_in(5)
            return None
        return info

    async def _stop_sidecars(self, pod: Obj, instances: dict[str, list[ContainerInfo]]) -> bool:
        """Every app container is done for good: sidecars stop, last started first.

        True when one was stopped."""
        stopped = False
        for container in reversed((pod.get("spec") or {}).get("initContainers") or []):
            infos = instances.get(str(container.get("name"))) or []
            if is_sidecar(container) and infos and infos[0].running:
                await stop_container(self.ctx, pod, infos[0], _grace(pod))
                stopped = True
        return stopped

    async def _volumes(self, pod: Obj, state: PodState) -> dict[str, VolumeSource] | None:
        if state.volumes is not None and time.monotonic() - state.volumes_at < _VOLUME_REFRESH:
            return state.volumes
        try:
            state.volumes = await self.ctx.volumes.prepare(pod)
        except MountError as exc:
            self.ctx.recorder.event(pod, WARNING, "FailedMount", str(exc))
            state.retry_in(5)
            return None
        state.volumes_at = time.monotonic()
        return state.volumes

    def _pod_files(self, pod: Obj, pod_ip: str) -> dict[str, str | None]:
        uid = str((pod.get("metadata") or {}).get("uid"))
        config = self.ctx.config
        files: dict[str, str | None] = {"hosts": None, "resolv": None}
        if not (pod.get("spec") or {}).get("hostNetwork"):
            files["hosts"] = self.ctx.volumes.pod_file(
                uid, "etc-hosts", hosts_file(pod, pod_ip, config.cluster_domain))
        resolv = resolv_conf(pod, config.cluster_dns, config.cluster_domain)
        if resolv is not None:
            files["resolv"] = self.ctx.volumes.pod_file(uid, "resolv.conf", resolv)
        return files

    async def _step(self, step: _Pass, container: Obj, kind: str,
                    instances: list[ContainerInfo]) -> bool:
        """Advance one container; True when the pod may go past it.

        That is: a regular init container succeeded, or a sidecar runs and has
        started (app containers' answers are not used).
        """
        pod, state = step.pod, step.state
        name = str(container.get("name"))
        sidecar = kind == KIND_INIT and is_sidecar(container)
        policy = container_restart_policy(pod, container, kind)
        probes = self.ctx.probes
        latest = instances[0] if instances else None
        if latest is not None and latest.running:
            why = probes.kill_reason(latest.id)
            if why is None and latest.spec_hash != spec_hash(container):
                why = f"Container {name} definition changed, will be restarted"
            if why is None:
                return probes.started(container, latest.id) if sidecar else kind == KIND_APP
            self.ctx.recorder.event(pod, NORMAL, "Killing", why,
                                    field_path=field_path(kind, name))
            step.exact = False
            await stop_container(self.ctx, pod, latest, _grace(pod), announce=False)
            probes.forget_container(latest.id)
            latest = await self.ctx.runtime.inspect(latest.id)
            if latest is None:
                return False
        if latest is None or (not latest.running and not latest.exited):
            if latest is not None:  # created but never started: start afresh
                step.exact = False
                await self.ctx.runtime.remove(latest.id)
            started = await self._start(step, container, kind,
                                        latest.restart_count if latest else 0)
            return started and sidecar and not container.get("startupProbe")
        if kind == KIND_INIT and not sidecar and latest.exit_code == 0 \
                and not latest.start_failed:
            state.waiting.pop(name, None)
            return True
        if not should_restart(policy, latest):
            state.waiting.pop(name, None)
            return False
        key = f"{state.uid}/{name}/{spec_hash(container)}"
        finished = _when(latest.finished_at)
        backoff = self.ctx.backoff
        if backoff.in_backoff_since(key, finished):
            delay = go_duration(backoff.delay(key))
            state.waiting[name] = ("CrashLoopBackOff", f"back-off {delay} restarting failed "
                                   f"container={name} pod={_pod_ref(pod)}")
            self.ctx.recorder.event(pod, WARNING, "BackOff",
                                    f"Back-off restarting failed container {name} in pod "
                                    f"{_pod_ref(pod)}", field_path=field_path(kind, name))
            state.retry_in(backoff.remaining(key, finished))
            return False
        backoff.next(key, finished)
        started = await self._start(step, container, kind, latest.restart_count + 1)
        return started and sidecar and not container.get("startupProbe")

    async def _start(self, step: _Pass, container: Obj, kind: str, restart_count: int) -> bool:
        ctx, pod, state = self.ctx, step.pod, step.state
        name = str(container.get("name"))
        where = field_path(kind, name)
        image = await ctx.images.ensure(pod, container, where)
        if image.image is None:
            state.waiting[name] = (image.reason, image.message)
            state.retry_in(image.retry_after or 5)
            return False
        try:
            spec = pod.get("spec") or {}
            services = ctx.services(str((pod.get("metadata") or {}).get("namespace")),
                                    spec.get("enableServiceLinks", True) is not False)
            env = await container_env(pod, container, ctx.objects, pod_ip=step.pod_ip,
                                      host_ip=ctx.config.node_ip, allocatable=ctx.allocatable(),
                                      services=service_env(services))
            setup = ContainerSetup(
                kind, restart_count, step.sandbox_id, env, step.volumes,
                image_user=str((image.image.get("Config") or {}).get("User") or ""),
                hosts_file=step.files["hosts"], resolv_file=step.files["resolv"],
                termination_log=ctx.volumes.termination_log(state.uid, name, restart_count))
            config, host, docker_name = docker_args(pod, container, setup, ctx.runtime.labels())
        except (ConfigError, ValueError) as exc:
            ctx.recorder.event(pod, WARNING, "Failed", f"Error: {exc}", field_path=where)
            state.waiting[name] = ("CreateContainerConfigError", str(exc))
            state.retry_in(10)
            return False
        try:
            container_id = await ctx.runtime.create(config, host, docker_name)
        except DockerError as exc:
            ctx.recorder.event(pod, WARNING, "Failed", f"Error: {exc}", field_path=where)
            state.waiting[name] = ("CreateContainerError", str(exc))
            state.retry_in(10)
            return False
        ctx.recorder.event(pod, NORMAL, "Created", f"Created container: {name}",
                           field_path=where)
        state.waiting.pop(name, None)
        state.expect(container_id, "start")  # before the call: the event may come first
        try:
            await ctx.runtime.start(container_id)
        except DockerError as exc:
            state.expected.discard((container_id, "start"))
            step.exact = False
            ctx.recorder.event(pod, WARNING, "Failed",
                               f'Error: failed to start container "{name}": {exc}',
                               field_path=where)
            state.retry_in(1)
            return False
        ctx.recorder.event(pod, NORMAL, "Started", f"Started container {name}",
                           field_path=where)
        if not await self._post_start(step, container, container_id, where):
            step.exact = False
            return False
        info = await ctx.runtime.inspect(container_id)
        if info is None:
            step.exact = False
        else:
            step.instances.setdefault(name, []).insert(0, info)
        return True

    async def _post_start(self, step: _Pass, container: Obj, container_id: str,
                          where: str) -> bool:
        """Run the postStart hook; a failing hook kills the container, as in Kubernetes."""
        hook = (container.get("lifecycle") or {}).get("postStart")
        if not hook:
            return True
        ok, message = await run_handler(self.ctx.runtime, hook, container, container_id,
                                        step.pod_ip, timeout=30)
        if ok:
            return True
        self.ctx.recorder.event(step.pod, WARNING, "FailedPostStartHook", message,
                                field_path=where)
        info = await self.ctx.runtime.inspect(container_id)
        if info is not None:
            await stop_container(self.ctx, step.pod, info, _grace(step.pod), announce=False)
        return False


@dataclass
class _Pass:
    """What every step of one pass over a pod shares."""

    pod: Obj
    state: PodState
    sandbox_id: str
    volumes: dict[str, VolumeSource]
    files: dict[str, str | None]
    pod_ip: str
    instances: dict[str, list[ContainerInfo]]
    exact: bool = True  # instances still say what Docker has (every change was recorded)


def _grace(pod: Obj) -> int:
    return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


def _apps_finished(spec: Obj, instances: dict[str, list[ContainerInfo]]) -> bool:
    """Every app container ran and stopped for good (its restart policy says so)."""
    policy = str(spec.get("restartPolicy") or "Always")
    for container in spec.get("containers") or []:
        infos = instances.get(str(container.get("name"))) or []
        if not infos or not infos[0].exited or should_restart(policy, infos[0]):
            return False
    return True


def _needs_sandbox(spec: Obj, instances: dict[str, list[ContainerInfo]]) -> bool:
    """Whether a (new) sandbox is needed: something has yet to run, or must run again."""
    return not any(instances.values()) or not _apps_finished(spec, instances)
