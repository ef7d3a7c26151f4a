"""Pod status from what Docker shows, computed the way the kubelet computes it.

Pure functions over an observation (``PodView``): the latest instance of each
container decides its state, the one before it its ``lastState``; a container
that exited and will be restarted shows ``waiting`` (with ``CrashLoopBackOff``
while its back-off runs) and its exit as ``lastState``.  The phase follows
Kubernetes' rules (Pending until every init container succeeded and every
container started; Running while any runs or restarts; Succeeded/Failed once
all stopped for good), and a terminal phase never goes back.  Conditions the
kubelet does not own are carried over untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelet.runtime import ContainerInfo
from machinery.meta import get_condition

__all__ = ["PodView", "should_restart", "container_status", "compute_phase",
           "compute_status", "status_changed", "terminated_state", "KUBELET_CONDITIONS",
           "is_sidecar", "container_restart_policy"]

Obj = dict[str, Any]
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass
class PodView:
    """One pod as observed: its Docker containers plus what the kubelet decided about them."""

    pod: Obj
    sandbox: ContainerInfo | None
    instances: dict[str, list[ContainerInfo]]           # by container name, newest first
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reason, msg)
    ready: Callable[[Obj, str], bool] = lambda c, i: True
    started: Callable[[Obj, str], bool] = lambda c, i: True
    image_ref: Callable[[str], str] = lambda image_id: image_id
    messages: dict[str, str] = field(default_factory=dict)  # container id -> termination msg
    terminal: bool = False                              # being torn down: nothing restarts


def is_sidecar(container: Obj) -> bool:
    """An init container with ``restartPolicy: Always`` runs beside the app containers."""
    return container.get("restartPolicy") == "Always"


def container_restart_policy(pod: Obj, container: Obj, kind: str) -> str:
    """The policy one container restarts by: init containers retry failures unless Never."""
    policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
    if kind != "init":
        return policy
    if is_sidecar(container):
        return "Always"
    return "Never" if policy == "Never" else "OnFailure"


def should_restart(restart_policy: str, info: ContainerInfo) -> bool:
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return info.exit_code != 0 or info.start_failed
    return False


def terminated_state(info: ContainerInfo, message: str = "") -> Obj:
    if info.oom_killed:
        reason = "OOMKilled"
    elif info.start_failed:
        reason = "StartError"
    else:
        reason = "Completed" if info.exit_code == 0 else "Error"
    exit_code = info.exit_code if not info.start_failed else (info.exit_code or 128)
    state: Obj = {"exitCode": exit_code, "reason": reason,
                  "startedAt": info.started_at, "finishedAt": info.finished_at or info.started_at,
                  "containerID": f"docker://{info.id}"}
    if info.start_failed:
        message = message or info.error
    if message:
        state["message"] = message
    return state


def container_status(view: PodView, spec: Obj, *, default_reason: str,
                     restart_policy: str) -> Obj:
    name = str(spec.get("name"))
    instances = view.instances.get(name) or []
    status: Obj = {"name": name, "image": spec.get("image"), "imageID": "", "ready": False,
                   "restartCount": 0, "started": False, "state": {}, "lastState": {}}
    reason = view.waiting.get(name)
    if not instances:
        waiting_reason, message = reason or (default_reason, "")
        status["state"] = {"waiting": {"reason": waiting_reason, **({"message": message}
                                                                    if message else {})}}
        return status
    latest = instances[0]
    status.update(restartCount=latest.restart_count, containerID=f"docker://{latest.id}",
                  imageID=view.image_ref(latest.image_id))
    previous = next((i for i in instances[1:] if i.exited), None)
    if previous is not None:
        status["lastState"] = {"terminated": terminated_state(
            previous, view.messages.get(previous.id, ""))}
    if latest.running:
        status["state"] = {"running": {"startedAt": latest.started_at}}
        status["started"] = view.started(spec, latest.id)
        status["ready"] = view.ready(spec, latest.id)
    elif latest.exited:
        terminated = terminated_state(latest, view.messages.get(latest.id, ""))
        if not view.terminal and (reason is not None or should_restart(restart_policy, latest)):
            waiting: Obj = {}
            if reason is not None:
                waiting["reason"] = reason[0]
                if reason[1]:
                    waiting["message"] = reason[1]
            status["state"] = {"waiting": waiting}
            status["lastState"] = {"terminated": terminated}
        else:
            status["state"] = {"terminated": terminated}
    else:
        waiting_reason, message = reason or ("ContainerCreating", "")
        status["state"] = {"waiting": {"reason": waiting_reason,
                                       **({"message": message} if message else {})}}
    return status


def _last_exit(status: Obj) -> int | None:
    term = status["lastState"].get("terminated")
    return None if term is None else int(term["exitCode"])


def _init_done(container: Obj, status: Obj) -> bool:
    """A sidecar counts once it runs and has started; an init container once it succeeded."""
    if is_sidecar(container):
        return "running" in status["state"] and bool(status["started"])
    return bool((status["state"].get("terminated") or {}).get("exitCode", 1) == 0)


def compute_phase(spec: Obj, init_statuses: list[Obj], statuses: list[Obj],
                  terminal: bool) -> str:
    pending_init = failed_init = 0
    running = waiting = stopped = succeeded = 0
    for container, s in zip(spec.get("initContainers") or [], init_statuses):
        state = s["state"]
        if is_sidecar(container):  # sidecars never decide success; they hold up a start
            if "running" in state:
                pending_init += not s["started"]
                running += 1
            elif "waiting" in state and _last_exit(s) is None:
                pending_init += 1
                waiting += 1
        elif "terminated" in state:
            failed_init += state["terminated"]["exitCode"] != 0
        elif "waiting" in state and _last_exit(s) is not None:
            failed_init += _last_exit(s) != 0
        else:
            pending_init += 1
    app_started = False
    for s in statuses:
        state = s["state"]
        app_started = app_started or "waiting" not in state or _last_exit(s) is not None
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif _last_exit(s) is not None:
            stopped += 1
        else:
            waiting += 1
    policy = spec.get("restartPolicy") or "Always"
    if failed_init and policy == "Never":
        return "Failed"
    if (pending_init and not app_started) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": type_, "status": "True" if ok else "False"}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _conditions(view: PodView, phase: str, init_statuses: list[Obj],
                statuses: list[Obj]) -> list[Obj]:
    pod = view.pod
    spec = pod.get("spec") or {}
    old = list((pod.get("status") or {}).get("conditions") or [])
    completed = phase == "Succeeded"
    sandbox_ok = view.sandbox is not None and view.sandbox.running
    init_specs = spec.get("initContainers") or []
    not_init = [s["name"] for c, s in zip(init_specs, init_statuses) if not _init_done(c, s)]
    initialized = _condition("Initialized", not not_init or completed,
                             "PodCompleted" if completed and not_init else
                             ("" if not not_init else "ContainersNotInitialized"),
                             "" if not not_init or completed else
                             f"containers with incomplete status: [{' '.join(not_init)}]")
    unready = [s["name"] for c, s in zip(init_specs, init_statuses)
               if is_sidecar(c) and not s["ready"]]
    unready += [s["name"] for s in statuses if not s["ready"]]
    if completed or (phase == "Failed" and unready):
        containers_ready = _condition("ContainersReady", False, "PodCompleted" if completed
                                      else "PodFailed")
    else:
        containers_ready = _condition(
            "ContainersReady", not unready, "ContainersNotReady" if unready else "",
            f"containers with unready status: [{' '.join(unready)}]" if unready else "")
    ready = dict(containers_ready, type="Ready")
    if containers_ready["status"] == "True":
        missing = [g.get("conditionType") for g in spec.get("readinessGates") or []
                   if (get_condition(old, str(g.get("conditionType"))) or {}).get("status")
                   != "True"]
        if missing:
            ready = _condition("Ready", False, "ReadinessGatesNotReady",
                               f'corresponding condition of pod readiness gate "{missing[0]}" '
                               "does not exist.")
    ours = [_condition("PodReadyToStartContainers", sandbox_ok), initialized, ready,
            containers_ready]
    out = [c for c in old if c.get("type") not in KUBELET_CONDITIONS]
    if get_condition(out, "PodScheduled") is None:
        out.append(_condition("PodScheduled", True))
    for cond in ours:
        previous = get_condition(old, cond["type"])
        if previous is not None and previous.get("status") == cond["status"]:
            cond["lastTransitionTime"] = previous.get("lastTransitionTime")
        out.append(cond)
    return out


def compute_status(view: PodView, *, host_ip: str, pod_ip: str, now: str) -> Obj:
    """The status subresource fields the kubelet owns, with ``now`` for new transitions."""
    pod = view.pod
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    policy = str(spec.get("restartPolicy") or "Always")
    init_specs = spec.get("initContainers") or []
    init_statuses = [container_status(view, c, default_reason="PodInitializing",
                                      restart_policy=container_restart_policy(pod, c, "init"))
                     for c in init_specs]
    init_done = all(_init_done(c, s) for c, s in zip(init_specs, init_statuses))
    default = "ContainerCreating" if init_done else "PodInitializing"
    statuses = [container_status(view, c, default_reason=default, restart_policy=policy)
                for c in spec.get("containers") or []]
    phase = compute_phase(spec, init_statuses, statuses, view.terminal)
    if old.get("phase") in ("Succeeded", "Failed"):
        phase = old["phase"]
    conditions = _conditions(view, phase, init_statuses, statuses)
    for cond in conditions:
        if not cond.get("lastTransitionTime"):
            cond["lastTransitionTime"] = now
    status: Obj = {
        "phase": phase, "conditions": conditions,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
    }
    ip = pod_ip or old.get("podIP")
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if init_specs:
        status["initContainerStatuses"] = init_statuses
    return status


def status_changed(old: Obj, new: Obj) -> bool:
    """Whether writing ``new`` would change any field of the stored status."""
    return any(old.get(key) != value for key, value in new.items())
