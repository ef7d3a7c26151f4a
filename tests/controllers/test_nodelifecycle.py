"""NodeLifecycleController: grace period, Unknown status, taints, pod readiness and eviction."""

from __future__ import annotations

from typing import Any

from controllers.nodelifecycle import (
    NODE_LEASE_NAMESPACE,
    STATUS_UNKNOWN_MESSAGE,
    NodeLifecycleController,
    desired_taints,
)
from machinery.meta import deepcopy_json, format_time, get_condition
from machinery.reconciler import Requeue
from machinery.taints import TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE
from machinery.workqueue import FakeClock
from tests.controllers.fakeclient import FakeClient, FakeRecorder, fake_context

Obj = dict[str, Any]
GRACE = 4.0
BEAT = "2024-01-01T00:00:00Z"


def node(name: str = "node-1", ready: str | None = "True", **spec: Any) -> Obj:
    conditions = [] if ready is None else [
        {"type": "Ready", "status": ready, "reason": "KubeletReady",
         "message": "kubelet is posting ready status", "lastHeartbeatTime": BEAT,
         "lastTransitionTime": BEAT},
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "lastHeartbeatTime": BEAT, "lastTransitionTime": BEAT}]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"uid-{name}"},
            "spec": spec, "status": {"conditions": conditions}}


def lease(name: str = "node-1", renew: str = "2024-01-01T00:00:00.000000Z") -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}


def pod(name: str, *, tolerations: list[Obj] | None = None, node_name: str = "node-1") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "apps", "uid": f"uid-{name}"},
            "spec": {"nodeName": node_name, "tolerations": tolerations or [],
                     "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}}


def unreachable_toleration(seconds: int | None) -> Obj:
    tol: Obj = {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        tol["tolerationSeconds"] = seconds
    return tol


def setup() -> tuple[NodeLifecycleController, FakeClient, FakeClock, FakeRecorder]:
    ctx, client, clock = fake_context(node_monitor_grace_period=GRACE)
    controller = NodeLifecycleController(ctx)
    recorder = ctx.events.recorder("node-controller")  # type: ignore[assignment]
    return controller, client, clock, recorder  # type: ignore[return-value]


def writes(client: FakeClient) -> list[tuple[str, str, str | None, str | None]]:
    return [(a.verb, a.resource, a.name, a.subresource) for a in client.writes()]


async def test_healthy_node_is_rechecked_when_its_grace_period_would_end() -> None:
    controller, client, clock, _ = setup()
    client.seed(node(), lease())

    assert await controller.reconcile("node-1") == Requeue(after=GRACE)
    await clock.advance(1.5)
    renewed = lease(renew="2024-01-01T00:00:01.500000Z")
    client.seed(renewed)
    assert await controller.reconcile("node-1") == Requeue(after=GRACE)
    assert client.writes() == []


async def test_silent_node_goes_unknown_tainted_and_its_pods_follow_the_rules() -> None:
    controller, client, clock, recorder = setup()
    client.seed(node(), lease(), pod("plain"), pod("patient", tolerations=[
        unreachable_toleration(2)]), pod("forever", tolerations=[unreachable_toleration(None)]),
        pod("elsewhere", node_name="node-2"))
    await controller.reconcile("node-1")

    await clock.advance(GRACE)
    result = await controller.reconcile("node-1")

    status = client.stored("nodes", "node-1")
    assert status is not None
    ready = get_condition(status["status"]["conditions"], "Ready")
    assert ready is not None and ready["status"] == "Unknown"
    assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == STATUS_UNKNOWN_MESSAGE
    assert ready["lastHeartbeatTime"] == BEAT  # the kubelet's last word is kept
    memory = get_condition(status["status"]["conditions"], "MemoryPressure")
    assert memory is not None and memory["status"] == "Unknown"
    taints = {(t["key"], t["effect"]) for t in status["spec"]["taints"]}
    assert taints == {(TAINT_UNREACHABLE, "NoExecute"), (TAINT_UNREACHABLE, "NoSchedule")}
    no_execute = [t for t in status["spec"]["taints"] if t["effect"] == "NoExecute"][0]
    assert no_execute["timeAdded"] == format_time(controller.wall())

    # every pod on the node is marked not ready; the intolerant one is evicted at once
    marked = [a.name for a in client.writes() if a.resource == "pods" and a.subresource == "status"]
    assert sorted(marked) == ["forever", "patient", "plain"]
    assert [a.name for a in client.writes() if a.verb == "delete"] == ["plain"]
    assert client.stored("pods", "plain", "apps") is None
    patient = client.stored("pods", "patient", "apps")
    assert patient is not None and get_condition(
        patient["status"]["conditions"], "Ready") == {
        "type": "Ready", "status": "False", "lastTransitionTime": no_execute["timeAdded"]}
    assert result == Requeue(after=2.0)
    reasons = [(e[1], e[3]) for e in recorder.events]
    assert ("NodeNotReady", "node-1") in reasons and ("NodeNotReady", "patient") in reasons
    assert ("TaintManagerEviction", "plain") in reasons

    # reconciling again before the toleration runs out changes nothing
    before = len(client.writes())
    assert await controller.reconcile("node-1") == Requeue(after=2.0)
    assert len(client.writes()) == before

    await clock.advance(2.0)
    assert await controller.reconcile("node-1") is None
    assert [a.name for a in client.writes() if a.verb == "delete"] == ["plain", "patient"]
    assert client.stored("pods", "forever", "apps") is not None


async def test_node_recovers_when_heard_from_again() -> None:
    controller, client, clock, recorder = setup()
    client.seed(node(), lease())
    await controller.reconcile("node-1")
    await clock.advance(GRACE)
    await controller.reconcile("node-1")

    client.seed(lease(renew="2024-01-01T00:00:09.000000Z"))
    back = deepcopy_json(client.stored("nodes", "node-1"))
    assert back is not None
    back["status"]["conditions"] = node()["status"]["conditions"]
    back["status"]["conditions"][0]["lastHeartbeatTime"] = "2024-01-01T00:00:09Z"
    del back["metadata"]["resourceVersion"]
    client.seed(back)
    result = await controller.reconcile("node-1")

    healed = client.stored("nodes", "node-1")
    assert healed is not None and "taints" not in healed["spec"]
    assert result == Requeue(after=GRACE)
    assert recorder.events[-1][1] == "NodeReady"


async def test_kubelet_reported_not_ready_taints_without_touching_pods() -> None:
    controller, client, _, _ = setup()
    client.seed(node(ready="False"), lease(), pod("p"))

    await controller.reconcile("node-1")
    await controller.reconcile("node-1")

    assert writes(client) == [("update", "nodes", "node-1", None), ("delete", "pods", "p", None)]
    stored = client.stored("nodes", "node-1")
    assert stored is not None
    assert {(t["key"], t["effect"]) for t in stored["spec"]["taints"]} == {
        (TAINT_NOT_READY, "NoExecute"), (TAINT_NOT_READY, "NoSchedule")}


async def test_node_that_never_reported_gets_never_updated_conditions() -> None:
    controller, client, clock, _ = setup()
    client.seed(node(ready=None))
    assert await controller.reconcile("node-1") == Requeue(after=GRACE)
    assert client.writes() == []

    await clock.advance(GRACE)
    await controller.reconcile("node-1")

    stored = client.stored("nodes", "node-1")
    assert stored is not None
    ready = get_condition(stored["status"]["conditions"], "Ready")
    assert ready is not None and ready["reason"] == "NodeStatusNeverUpdated"
    assert ready["message"] == "Kubelet never posted node status."


def test_desired_taints_keep_foreign_taints_and_times() -> None:
    foreign = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    old = {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": "2023-01-01T00:00:00Z"}
    subject = node(ready="Unknown", unschedulable=True, taints=[foreign, old])
    subject["status"]["conditions"][1]["status"] = "True"  # memory pressure

    taints = desired_taints(subject, "2024-06-01T00:00:00Z")

    assert taints[:2] == [foreign, old]
    assert {(t["key"], t["effect"]) for t in taints[2:]} == {
        (TAINT_UNREACHABLE, "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        (TAINT_UNSCHEDULABLE, "NoSchedule")}
    healthy = node(taints=taints)
    assert desired_taints(healthy, "x") == [foreign]


async def test_pods_landing_on_a_tainted_node_enqueue_it() -> None:
    controller, client, _, _ = setup()
    client.seed(node(ready="False"), node("node-2"))
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())

    client.seed(pod("a"), pod("b", node_name="node-2"))

    assert len(controller.queue) == 1
    assert await controller.queue.get() == "node-1"
