"""Pod requests as Kubernetes computes them: containers summed, init containers at their peak, sidecars, overhead."""

from __future__ import annotations

from typing import Any

from machinery.podrequests import (
    DEFAULT_MEMORY_REQUEST,
    amounts,
    pod_host_ports,
    pod_non_zero_requests,
    pod_requests,
)


def _c(name: str, cpu: str | None = None, memory: str | None = None,
       **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"name": name, **({"resources": {"requests": requests}} if requests else {}), **extra}


def test_amounts_parse_and_tolerate_garbage() -> None:
    assert amounts({"cpu": "1.5", "memory": "1Ki", "nvidia.com/gpu": "2", "bad": "x"}) == {
        "cpu": 1500, "memory": 1024, "nvidia.com/gpu": 2, "bad": 0}
    assert amounts(None) == {}


def test_containers_add_up_and_init_containers_peak() -> None:
    pod = {"spec": {"containers": [_c("a", "100m", "1Mi"), _c("b", "200m")],
                    "initContainers": [_c("i1", "1"), _c("i2", "50m", "10Mi")]}}
    assert pod_requests(pod) == {"cpu": 1000, "memory": 10 * 2**20}


def test_sidecars_add_to_everything_after_them() -> None:
    pod = {"spec": {
        "containers": [_c("app", "100m")],
        "initContainers": [_c("sidecar", "300m", restartPolicy="Always"), _c("init", "500m")],
        "overhead": {"cpu": "10m"}}}
    # steady state 100+300, init phase 300+500 -> 800, plus overhead.
    assert pod_requests(pod) == {"cpu": 810}


def test_non_zero_requests_default_per_container() -> None:
    pod = {"spec": {"containers": [_c("a"), _c("b", "1")]}}
    assert pod_non_zero_requests(pod) == {"cpu": 1100, "memory": 2 * DEFAULT_MEMORY_REQUEST}
    assert pod_requests(pod) == {"cpu": 1000}


def test_host_ports() -> None:
    pod = {"spec": {"containers": [{"name": "a", "ports": [
        {"containerPort": 80, "hostPort": 8080},
        {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "127.0.0.1"},
        {"containerPort": 90}]}],
        "initContainers": [{"name": "s", "restartPolicy": "Always",
                            "ports": [{"containerPort": 1, "hostPort": 9000}]},
                           {"name": "i", "ports": [{"containerPort": 1, "hostPort": 9001}]}]}}
    assert pod_host_ports(pod) == [("0.0.0.0", "TCP", 8080), ("127.0.0.1", "UDP", 53),
                                   ("0.0.0.0", "TCP", 9000)]
