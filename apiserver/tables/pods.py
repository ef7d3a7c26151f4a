"""The Pod table: READY, STATUS and RESTARTS as ``kubectl get pods`` shows them.

STATUS is not a stored field. It is derived from the phase, the init and
regular container states and the deletion timestamp with kubectl's precedence
(a waiting reason such as ``CrashLoopBackOff`` beats the phase, a failed init
container shows as ``Init:Error``, a pod being deleted shows ``Terminating``),
so users see the same words on k8py as on any cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apiserver.tables.columns import Cell, Column, Printer, age_column, field_doc, name_column
from apiserver.tables.format import NONE, age_of, dig, human_duration, name_of, parse_time

__all__ = ["PRINTERS", "pod_status"]

_POD_STATUS = "io.k8s.api.core.v1.PodStatus"
_POD_SPEC = "io.k8s.api.core.v1.PodSpec"

# A pod whose node stopped answering is marked with this status reason.
NODE_UNREACHABLE = "NodeLost"
SCHEDULING_GATED = "SchedulingGated"


@dataclass
class _Tally:
    """What the container walk accumulates for one row."""

    reason: str
    ready: int = 0
    total: int = 0
    restarts: int = 0
    last_restart: datetime | None = None

    def restarted(self, status: dict[str, Any]) -> None:
        self.restarts += int(status.get("restartCount") or 0)
        finished = parse_time(dig(status, "lastState", "terminated", "finishedAt"))
        if finished is not None and (self.last_restart is None or finished > self.last_restart):
            self.last_restart = finished


def _is_sidecar(container: dict[str, Any] | None) -> bool:
    """An init container with ``restartPolicy: Always`` keeps running (a sidecar)."""
    return container is not None and container.get("restartPolicy") == "Always"


def _condition_true(pod: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in dig(pod, "status", "conditions", default=[])
    )


def _terminated_reason(terminated: dict[str, Any], prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _walk_init_containers(pod: dict[str, Any], tally: _Tally, sidecars: _Tally) -> bool:
    """Account for init containers; True while the pod is still initializing."""
    specs = {c.get("name"): c for c in dig(pod, "spec", "initContainers", default=[])}
    statuses = dig(pod, "status", "initContainerStatuses", default=[])
    for index, status in enumerate(statuses):
        state = status.get("state") or {}
        sidecar = _is_sidecar(specs.get(status.get("name")))
        tally.restarted(status)
        if sidecar:
            sidecars.restarted(status)
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and status.get("started"):
            if status.get("ready"):
                tally.ready += 1
            continue
        if terminated is not None:
            tally.reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            tally.reason = f"Init:{waiting['reason']}"
        else:
            tally.reason = f"Init:{index}/{len(specs)}"
        return True
    return False


def _walk_containers(pod: dict[str, Any], tally: _Tally) -> None:
    """Account for regular containers; the first one listed has the last word."""
    running = False
    for status in reversed(dig(pod, "status", "containerStatuses", default=[])):
        state = status.get("state") or {}
        tally.restarted(status)
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            tally.reason = str(waiting["reason"])
        elif terminated is not None:
            tally.reason = _terminated_reason(terminated)
        elif status.get("ready") and state.get("running") is not None:
            running = True
            tally.ready += 1
    # A container that completed while another still runs: the pod is not done.
    if tally.reason == "Completed" and running:
        tally.reason = "Running" if _condition_true(pod, "Ready") else "NotReady"


def pod_status(pod: dict[str, Any]) -> tuple[str, int, int, int, datetime | None]:
    """STATUS, ready count, container count, restarts and the last restart time."""
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "")
    tally = _Tally(reason=str(status.get("reason") or phase))
    if any(
        c.get("type") == "PodScheduled" and c.get("reason") == SCHEDULING_GATED
        for c in status.get("conditions") or ()
    ):
        tally.reason = SCHEDULING_GATED
    init_specs = dig(pod, "spec", "initContainers", default=[])
    tally.total = len(dig(pod, "spec", "containers", default=[]))
    tally.total += sum(1 for c in init_specs if _is_sidecar(c))

    sidecars = _Tally(reason="")
    initializing = _walk_init_containers(pod, tally, sidecars)
    if not initializing or _condition_true(pod, "Initialized"):
        # Only sidecar restarts carry over once initialization is over.
        tally.restarts, tally.last_restart = sidecars.restarts, sidecars.last_restart
        _walk_containers(pod, tally)

    deleting = dig(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == NODE_UNREACHABLE:
        tally.reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        tally.reason = "Terminating"
    return tally.reason, tally.ready, tally.total, tally.restarts, tally.last_restart


def _readiness_gates(pod: dict[str, Any]) -> str:
    gates = dig(pod, "spec", "readinessGates", default=[])
    if not gates:
        return NONE
    conditions = {c.get("type"): c.get("status") for c in dig(pod, "status", "conditions", default=[])}
    passed = sum(1 for gate in gates if conditions.get(gate.get("conditionType")) == "True")
    return f"{passed}/{len(gates)}"


def _pod_ip(pod: dict[str, Any]) -> str:
    ip = dig(pod, "status", "podIPs", 0, "ip") or dig(pod, "status", "podIP")
    return str(ip) if ip else NONE


def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Cell]:
    reason, ready, total, restarts, last_restart = pod_status(pod)
    restart_cell = str(restarts)
    if restarts and last_restart is not None:
        restart_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return [
        name_of(pod),
        f"{ready}/{total}",
        reason,
        restart_cell,
        age_of(pod, now),
        _pod_ip(pod),
        dig(pod, "spec", "nodeName") or NONE,
        dig(pod, "status", "nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, str]] | None:
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return None
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


POD = Printer(
    columns=(
        name_column(),
        Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column(
            "Restarts",
            description="The number of times the containers in this pod have been restarted "
            "and when the last container in this pod has restarted.",
        ),
        age_column(),
        Column("IP", description=field_doc(_POD_STATUS, "podIP"), priority=1),
        Column("Node", description=field_doc(_POD_SPEC, "nodeName"), priority=1),
        Column("Nominated Node", description=field_doc(_POD_STATUS, "nominatedNodeName"), priority=1),
        Column("Readiness Gates", description=field_doc(_POD_SPEC, "readinessGates"), priority=1),
    ),
    cells=_pod_cells,
    conditions=_pod_conditions,
)

PRINTERS = {("", "pods"): POD}
