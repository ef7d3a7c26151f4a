"""Pod status computation: container states, phases, conditions, what is preserved."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.runtime import ContainerInfo
from kubelet.status import PodView, compute_phase, compute_status, status_changed

Obj = dict[str, Any]
NOW = "2024-01-01T00:00:10Z"


def info(cid: str, name: str, state: str, *, code: int = 0, restarts: int = 0,
         oom: bool = False, kind: str = "app") -> ContainerInfo:
    return ContainerInfo(
        id=cid, name=cid, state=state, exit_code=code, oom_killed=oom, created=cid,
        labels={"io.k8py.container": name, "io.k8py.restart-count": str(restarts),
                "io.k8py.kind": kind},
        started_at="2024-01-01T00:00:01Z",
        finished_at=None if state == "running" else "2024-01-01T00:00:02Z",
        image_id="sha256:abc")


def pod(containers: list[str], init: list[str] | None = None, policy: str = "Always",
        conditions: list[Obj] | None = None, **status: Any) -> Obj:
    spec: Obj = {"restartPolicy": policy,
                 "containers": [{"name": n, "image": "img:1"} for n in containers]}
    if init:
        spec["initContainers"] = [{"name": n, "image": "img:1"} for n in init]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec,
            "status": {"conditions": conditions or [], **status}}


def sandbox() -> ContainerInfo:
    return info("s", "", "running", kind="sandbox")


def status_of(view: PodView) -> Obj:
    return compute_status(view, host_ip="192.0.2.1", pod_ip="10.0.0.2", now=NOW)


def test_running_pod_is_ready_with_kubelet_conditions() -> None:
    p = pod(["a"], conditions=[{"type": "PodScheduled", "status": "True",
                                "lastTransitionTime": "2024-01-01T00:00:00Z"},
                               {"type": "DisruptionTarget", "status": "False"}])
    status = status_of(PodView(p, sandbox(), {"a": [info("c1", "a", "running")]}))
    assert status["phase"] == "Running" and status["podIP"] == "10.0.0.2"
    assert status["hostIPs"] == [{"ip": "192.0.2.1"}] and status["startTime"] == NOW
    conds = {c["type"]: c for c in status["conditions"]}
    assert {t: c["status"] for t, c in conds.items()} == {
        "PodScheduled": "True", "DisruptionTarget": "False", "PodReadyToStartContainers": "True",
        "Initialized": "True", "Ready": "True", "ContainersReady": "True"}
    assert conds["PodScheduled"]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    [cs] = status["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": "2024-01-01T00:00:01Z"}}
    assert cs["containerID"] == "docker://c1" and cs["imageID"] == "sha256:abc"
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0


def test_transition_times_move_only_on_flips() -> None:
    old = [{"type": "Ready", "status": "False", "lastTransitionTime": "2024-01-01T00:00:05Z"},
           {"type": "Initialized", "status": "True",
            "lastTransitionTime": "2024-01-01T00:00:03Z"}]
    view = PodView(pod(["a"], conditions=old), sandbox(), {"a": [info("c1", "a", "running")]},
                   ready=lambda c, i: False)
    conds = {c["type"]: c for c in status_of(view)["conditions"]}
    assert conds["Ready"]["lastTransitionTime"] == "2024-01-01T00:00:05Z"
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [a]"
    assert conds["Initialized"]["lastTransitionTime"] == "2024-01-01T00:00:03Z"
    view.ready = lambda c, i: True
    conds = {c["type"]: c for c in status_of(view)["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["lastTransitionTime"] == NOW


def test_waiting_reasons_and_last_state() -> None:
    instances = {"a": [info("c2", "a", "exited", code=1, restarts=1),
                       info("c1", "a", "exited", code=1)]}
    view = PodView(pod(["a", "b"]), sandbox(), instances,
                   waiting={"a": ("CrashLoopBackOff", "back-off 10s ..."),
                            "b": ("ErrImagePull", "Failed to pull")})
    a, b = status_of(view)["containerStatuses"]
    assert a["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 10s ..."}}
    assert a["lastState"]["terminated"]["exitCode"] == 1
    assert a["lastState"]["terminated"]["containerID"] == "docker://c2"
    assert a["restartCount"] == 1
    assert b["state"]["waiting"] == {"reason": "ErrImagePull", "message": "Failed to pull"}
    assert "containerID" not in b


def test_termination_reasons() -> None:
    instances = {"a": [info("c1", "a", "exited", code=137, oom=True)],
                 "b": [info("c2", "b", "exited", code=0)],
                 "c": [info("c3", "c", "exited", code=2)]}
    view = PodView(pod(["a", "b", "c"], policy="Never"), None, instances,
                   messages={"c3": "disk full"})
    a, b, c = (s["state"]["terminated"] for s in status_of(view)["containerStatuses"])
    assert (a["reason"], a["exitCode"]) == ("OOMKilled", 137)
    assert (b["reason"], b["exitCode"]) == ("Completed", 0)
    assert (c["reason"], c["message"]) == ("Error", "disk full")


def test_init_containers_hold_the_pod_pending() -> None:
    view = PodView(pod(["a"], init=["i1", "i2"]), sandbox(),
                   {"i1": [info("c1", "i1", "exited", kind="init")],
                    "i2": [info("c2", "i2", "running", kind="init")]})
    status = status_of(view)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Initialized"]["status"] == "False"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [i2]"


@pytest.mark.parametrize("policy,states,terminal,phase", [
    ("Always", ["running"], False, "Running"),
    ("Always", ["exited0"], False, "Running"),
    ("OnFailure", ["exited0", "exited0"], False, "Succeeded"),
    ("OnFailure", ["exited1"], False, "Running"),
    ("Never", ["exited0", "exited1"], False, "Failed"),
    ("Never", ["running", "exited1"], False, "Running"),
    ("Always", ["exited0", "exited0"], True, "Succeeded"),
    ("Always", ["exited0", "exited1"], True, "Failed"),
    ("Always", ["waiting"], False, "Pending"),
])
def test_phase(policy: str, states: list[str], terminal: bool, phase: str) -> None:
    statuses = []
    for state in states:
        if state == "running":
            statuses.append({"state": {"running": {}}, "lastState": {}})
        elif state == "waiting":
            statuses.append({"state": {"waiting": {}}, "lastState": {}})
        else:
            statuses.append({"state": {"terminated": {"exitCode": int(state[-1])}},
                             "lastState": {}})
    assert compute_phase({"restartPolicy": policy}, [], statuses, terminal) == phase


def test_a_terminal_phase_never_goes_back() -> None:
    view = PodView(pod(["a"], phase="Succeeded"), sandbox(), {"a": [info("c1", "a", "running")]})
    assert status_of(view)["phase"] == "Succeeded"


def test_completed_pods_are_not_ready_and_keep_their_ip() -> None:
    view = PodView(pod(["a"], policy="Never", podIP="10.0.0.9"), None,
                   {"a": [info("c1", "a", "exited")]})
    status = compute_status(view, host_ip="192.0.2.1", pod_ip="", now=NOW)
    conds = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Succeeded" and status["podIP"] == "10.0.0.9"
    assert conds["Ready"]["reason"] == "PodCompleted"
    assert conds["PodReadyToStartContainers"]["status"] == "False"


def test_readiness_gates() -> None:
    p = pod(["a"])
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    view = PodView(p, sandbox(), {"a": [info("c1", "a", "running")]})
    conds = {c["type"]: c for c in status_of(view)["conditions"]}
    assert conds["ContainersReady"]["status"] == "True"
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["reason"] == "ReadinessGatesNotReady"
    p["status"]["conditions"].append({"type": "example.com/lb", "status": "True"})
    conds = {c["type"]: c for c in status_of(view)["conditions"]}
    assert conds["Ready"]["status"] == "True"


def test_status_changed_compares_only_written_fields() -> None:
    new = {"phase": "Running"}
    assert not status_changed({"phase": "Running", "qosClass": "BestEffort"}, new)
    assert status_changed({"phase": "Pending", "qosClass": "BestEffort"}, new)
