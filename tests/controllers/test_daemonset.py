"""DaemonSetController against the recording fake client and its informer caches."""

from __future__ import annotations

from typing import Any

from controllers.daemonset import DaemonSetController
from controllers.history import REVISION_HASH_LABEL
from machinery.reconciler import Requeue
from tests.controllers.fakeclient import FakeClient, fake_context
from tests.controllers.stateful import bump_template, daemonset, node, set_phase, stored_pods

KEY = "default/agent"


def setup() -> tuple[DaemonSetController, FakeClient, Any]:
    ctx, client, _ = fake_context()
    return DaemonSetController(ctx), client, ctx


def pinned_to(pod: dict[str, Any]) -> str:
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    [term] = terms
    [field] = term["matchFields"]
    assert field["key"] == "metadata.name" and field["operator"] == "In"
    return str(field["values"][0])


def by_node(client: FakeClient) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, pod in sorted(stored_pods(client).items()):
        if not pod["metadata"].get("deletionTimestamp"):
            out.setdefault(pinned_to(pod), []).append(name)
    return out


def status(client: FakeClient) -> dict[str, Any]:
    ds = client.stored("daemonsets", "agent", "default")
    assert ds is not None
    return dict(ds["status"])


async def run_everywhere(client: FakeClient) -> None:
    """Bind every pod to its node and make it Running and Ready, as scheduler and kubelet do."""
    for name, pod in stored_pods(client).items():
        if not pod["spec"].get("nodeName"):
            await client.patch("pods", name, {"spec": {"nodeName": pinned_to(pod)}}, "default")
        await set_phase(client, name, "Running", ready=True)


async def test_one_pod_per_node_pinned_by_affinity_with_daemon_tolerations() -> None:
    controller, client, ctx = setup()
    client.seed(node("n1"), node("n2"), daemonset())

    await controller.reconcile(KEY)

    assert sorted(by_node(client)) == ["n1", "n2"]
    pod = next(iter(stored_pods(client).values()))
    assert pod["metadata"]["labels"][REVISION_HASH_LABEL]
    assert "nodeName" not in pod["spec"]  # the scheduler binds it
    tolerations = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert tolerations == {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule")}
    assert all("tolerationSeconds" not in t for t in pod["spec"]["tolerations"])
    reasons = [e[1] for e in ctx.events.recorders["daemonset-controller"].events]
    assert reasons == ["SuccessfulCreate", "SuccessfulCreate"]


async def test_reconciling_a_settled_daemonset_writes_nothing() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), node("n2"), daemonset())
    await controller.reconcile(KEY)
    await run_everywhere(client)
    await controller.reconcile(KEY)
    before = len(client.writes())

    await controller.reconcile(KEY)

    assert len(client.writes()) == before


async def test_status_counts_nodes() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), node("n2"), node("n3", labels={"role": "db"}),
                daemonset(nodeSelector={"role": "db"}))
    await controller.reconcile(KEY)
    await run_everywhere(client)

    await controller.reconcile(KEY)

    assert by_node(client) == {"n3": [next(iter(stored_pods(client)))]}
    assert status(client) == {"desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                              "numberMisscheduled": 0, "numberReady": 1,
                              "updatedNumberScheduled": 1, "numberAvailable": 1,
                              "observedGeneration": 1}


async def test_no_schedule_taints_keep_pods_off_unless_tolerated() -> None:
    controller, client, _ = setup()
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    client.seed(node("n1"), node("n2", taints=[taint]), daemonset())

    await controller.reconcile(KEY)
    assert sorted(by_node(client)) == ["n1"]
    await run_everywhere(client)

    ds = await client.get("daemonsets", "agent", "default")
    ds["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    await client.update("daemonsets", ds)
    await controller.reconcile(KEY)
    assert sorted(by_node(client)) == ["n1", "n2"]


async def test_a_new_no_schedule_taint_keeps_the_pod_but_no_execute_removes_it() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), daemonset())
    await controller.reconcile(KEY)
    await run_everywhere(client)

    await client.patch("nodes", "n1", {"spec": {"taints": [
        {"key": "maintenance", "effect": "NoSchedule"}]}})
    await controller.reconcile(KEY)
    assert sorted(by_node(client)) == ["n1"]

    await client.patch("nodes", "n1", {"spec": {"taints": [
        {"key": "maintenance", "effect": "NoExecute"}]}})
    await controller.reconcile(KEY)
    assert by_node(client) == {}


async def test_a_joining_node_gets_a_pod_and_a_leaving_one_loses_it_at_once() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), daemonset())
    await controller.reconcile(KEY)
    await run_everywhere(client)
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())

    client.seed(node("n2"))
    assert await controller.queue.get() == KEY
    controller.queue.done(KEY)
    await controller.reconcile(KEY)
    assert sorted(by_node(client)) == ["n1", "n2"]

    await run_everywhere(client)
    await client.delete("nodes", "n1")
    graces: list[Any] = []
    real_delete = client.delete

    async def recording_delete(*args: Any, **kwargs: Any) -> Any:
        graces.append(kwargs.get("grace_period_seconds"))
        return await real_delete(*args, **kwargs)

    client.delete = recording_delete  # type: ignore[method-assign]
    await controller.reconcile(KEY)

    assert sorted(by_node(client)) == ["n2"]
    assert graces == [0]  # forced: no kubelet is left to finish a graceful delete


async def test_extra_pods_on_a_node_go_keeping_the_oldest() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), daemonset())
    await controller.reconcile(KEY)
    [first] = stored_pods(client)
    client.now = "2024-01-01T00:05:00Z"
    spare = dict(stored_pods(client)[first])
    spare["metadata"] = {k: v for k, v in spare["metadata"].items()
                         if k not in ("uid", "resourceVersion", "creationTimestamp")}
    spare["metadata"]["name"] = "agent-spare"
    await client.create("pods", spare)
    await run_everywhere(client)

    await controller.reconcile(KEY)

    assert by_node(client) == {"n1": [first]}


async def test_rolling_update_replaces_max_unavailable_pods_at_a_time() -> None:
    controller, client, _ = setup()
    client.seed(node("n1"), node("n2"), node("n3"), daemonset())
    await controller.reconcile(KEY)
    await run_everywhere(client)
    await controller.reconcile(KEY)
    old = set(stored_pods(client))
    await bump_template(client, "agent", "k8py/hello:2.0", resource="daemonsets")

    await controller.reconcile(KEY)  # one old pod goes
    assert len(old - set(stored_pods(client))) == 1
    await controller.reconcile(KEY)  # its node gets a new pod; the budget is spent
    await controller.reconcile(KEY)
    assert len(old - set(stored_pods(client))) == 1

    await run_everywhere(client)
    await controller.reconcile(KEY)
    assert len(old - set(stored_pods(client))) == 2
    assert status(client)["updatedNumberScheduled"] == 1


async def test_failed_pods_are_replaced_with_a_back_off() -> None:
    controller, client, ctx = setup()
    client.seed(node("n1"), daemonset())
    await controller.reconcile(KEY)
    await run_everywhere(client)
    [first] = stored_pods(client)
    await set_phase(client, first, "Failed")

    await controller.reconcile(KEY)  # deleted (gone at once in the fake)
    await controller.reconcile(KEY)  # and replaced
    [second] = stored_pods(client)
    assert second != first
    await run_everywhere(client)
    await set_phase(client, second, "Failed")
    result = await controller.reconcile(KEY)  # within the 1 s back-off: kept for now

    assert list(stored_pods(client)) == [second]
    assert isinstance(result, Requeue) and 0 < result.after <= 1
    await ctx.clock.advance(2.5)
    await controller.reconcile(KEY)
    assert second not in stored_pods(client)
    reasons = [e[1] for e in ctx.events.recorders["daemonset-controller"].events]
    assert reasons.count("FailedDaemonPod") == 2


async def test_an_empty_selector_is_refused_with_an_event() -> None:
    controller, client, ctx = setup()
    ds = daemonset()
    ds["spec"]["selector"] = {}
    client.seed(node("n1"), ds)

    await controller.reconcile(KEY)

    assert stored_pods(client) == {}
    assert [e[1] for e in ctx.events.recorders["daemonset-controller"].events] == [
        "SelectingAll"]
