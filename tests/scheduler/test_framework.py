"""Framework pieces: Status, NodeInfo accounting, normalization and the FailedScheduling wording."""

from __future__ import annotations

from tests.scheduler.builders import make_node, make_pod, node_info

from scheduler.framework import (
    NO_NODES_AVAILABLE,
    Code,
    FitError,
    MaxScore,
    NodeInfo,
    Status,
    default_normalize,
    node_ready_status,
)


def test_status_constructors() -> None:
    assert Status().is_success()
    hard = Status.unschedulable("a", "b", unresolvable=True)
    assert hard.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and hard.message == "a, b"
    assert Status.unschedulable("x").code is Code.UNSCHEDULABLE
    assert Status.error("boom").code is Code.ERROR
    assert hard.with_plugin("P").plugin == "P"
    assert MaxScore == 100


def test_node_info_accounts_requests_ports_and_removal() -> None:
    info = node_info(make_node("n1", cpu="2", memory="2Gi"))
    first = make_pod("a", node="n1", cpu="500m", memory="256Mi", host_ports=[80])
    info.add_pod(first)
    info.add_pod(make_pod("b", node="n1"))
    assert info.requested["cpu"] == 500 and info.requested["memory"] == 256 * 2**20
    assert info.non_zero_requested["cpu"] == 600
    assert info.used_ports == {("0.0.0.0", "TCP", 80): 1}
    info.add_pod(first)  # re-adding replaces rather than double counts
    assert info.requested["cpu"] == 500
    assert info.remove_pod("default/a") is first
    assert info.requested["cpu"] == 0 and info.used_ports == {}
    assert info.remove_pod("default/missing") is None
    assert info.allocatable == {"cpu": 2000, "memory": 2 * 2**30, "pods": 110}


def test_usage_skips_resources_the_node_lacks() -> None:
    info = NodeInfo("n")
    info.set_node({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1"}}})
    assert info.usage_with({"cpu": 250, "memory": 5}, ("cpu", "memory"), non_zero=False) == [
        (250, 1000)]


def test_default_normalize() -> None:
    scores = {"a": 5, "b": 10, "c": 0}
    default_normalize(scores)
    assert scores == {"a": 50, "b": 100, "c": 0}
    scores = {"a": 5, "b": 10, "c": 0}
    default_normalize(scores, reverse=True)
    assert scores == {"a": 50, "b": 0, "c": 100}
    zeros = {"a": 0}
    default_normalize(zeros, reverse=True)
    assert zeros == {"a": MaxScore}


def test_node_ready_status() -> None:
    assert node_ready_status(make_node("n")) == "True"
    assert node_ready_status(make_node("n", ready="False")) == "False"
    assert node_ready_status(make_node("n", ready=None)) == "Unknown"


def test_fit_error_message_matches_upstream() -> None:
    statuses = {
        "n1": Status.unschedulable("Insufficient cpu").with_plugin("NodeResourcesFit"),
        "n2": Status.unschedulable("node(s) didn't match Pod's node affinity/selector",
                                   unresolvable=True).with_plugin("NodeAffinity"),
    }
    err = FitError(make_pod("p"), 2, statuses)
    assert err.message == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims "
        "found for incoming pod, 1 Preemption is not helpful for scheduling.")
    assert err.unschedulable_plugins() == {"NodeResourcesFit", "NodeAffinity"}


def test_fit_error_counts_and_sorts_like_strings() -> None:
    statuses = {f"n{i}": Status.unschedulable("node(s) were unschedulable", unresolvable=True)
                for i in range(10)}
    statuses["x"] = Status.unschedulable("Insufficient cpu", "Insufficient memory")
    err = FitError(make_pod("p"), 11, statuses)
    assert err.message.startswith(
        "0/11 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "10 node(s) were unschedulable. preemption: 0/11 nodes are available: "
        "1 No preemption victims found for incoming pod, 10 Preemption is not helpful")


def test_fit_error_without_nodes_or_preemption() -> None:
    assert FitError(make_pod("p"), 0, {}).message == NO_NODES_AVAILABLE
    never = make_pod("p")
    never["spec"]["preemptionPolicy"] = "Never"
    message = FitError(never, 1, {"n": Status.unschedulable("Too many pods")}).message
    assert message == ("0/1 nodes are available: 1 Too many pods. "
                       "preemption: not eligible due to preemptionPolicy=Never.")
