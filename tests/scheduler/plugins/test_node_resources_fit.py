"""NodeResourcesFit: requests against allocatable minus what bound pods request."""

from __future__ import annotations

from tests.scheduler.builders import cycle, make_node, make_pod, node_info

from scheduler.framework import Code
from scheduler.plugins.node_resources_fit import TOO_MANY_PODS, NodeResourcesFit


def test_fits_in_what_is_left() -> None:
    info = node_info(make_node("n1", cpu="2", memory="4Gi"),
                     make_pod("a", node="n1", cpu="1500m", memory="1Gi"))
    plugin = NodeResourcesFit()
    assert plugin.filter(cycle(info), make_pod("p", cpu="500m", memory="3Gi"), info).is_success()
    status = plugin.filter(cycle(info), make_pod("q", cpu="501m"), info)
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons == ("Insufficient cpu",)


def test_every_shortfall_is_a_reason() -> None:
    info = node_info(make_node("n1", cpu="1", memory="1Gi"))
    status = NodeResourcesFit().filter(cycle(info), make_pod("p", cpu="2", memory="2Gi"), info)
    assert status.reasons == ("Insufficient cpu", "Insufficient memory")


def test_pod_count_limit() -> None:
    info = node_info(make_node("n1", pods=1), make_pod("a", node="n1"))
    status = NodeResourcesFit().filter(cycle(info), make_pod("p"), info)
    assert status.reasons == (TOO_MANY_PODS,)


def test_request_less_pod_needs_only_a_pod_slot() -> None:
    info = node_info(make_node("n1", cpu="100m", memory="1Mi"),
                     make_pod("a", node="n1", cpu="100m", memory="1Mi"))
    assert NodeResourcesFit().filter(cycle(info), make_pod("p"), info).is_success()


def test_extended_resource_missing_on_node() -> None:
    info = node_info(make_node("n1"))
    pod = make_pod("p")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "1"}}
    status = NodeResourcesFit().filter(cycle(info), pod, info)
    assert status.reasons == ("Insufficient example.com/gpu",)
    info.node["status"]["allocatable"]["example.com/gpu"] = "2"  # type: ignore[index]
    info.set_node(info.node)
    assert NodeResourcesFit().filter(cycle(info), pod, info).is_success()


def test_init_containers_count_at_their_peak() -> None:
    info = node_info(make_node("n1", cpu="1"))
    pod = make_pod("p", cpu="200m")
    pod["spec"]["initContainers"] = [{"name": "init", "image": "x",
                                      "resources": {"requests": {"cpu": "1500m"}}}]
    assert NodeResourcesFit().filter(cycle(info), pod, info).reasons == ("Insufficient cpu",)
