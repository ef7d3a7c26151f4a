"""Node registration, status and Lease renewal against a recording fake API."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelet.config import KubeletConfig
from kubelet.node import LEASE_NAMESPACE, NodeAgent
from machinery import errors
from tests.kubelet.fakes import FakeClient


class Runtime:
    """The few Docker calls the node agent makes."""

    def __init__(self) -> None:
        self.up = True
        self.api = self

    async def version(self) -> dict[str, str]:
        return {"Version": "20.10.24"}

    async def ping(self) -> bool:
        return self.up

    def images(self) -> list[dict[str, object]]:
        return [{"RepoTags": ["k8py/hello:1.0"], "RepoDigests": [], "Size": 5},
                {"RepoTags": ["<none>:<none>"], "RepoDigests": [], "Size": 9}]

    async def call(self, fn: object) -> object:
        assert callable(fn)
        return fn()


def agent(tmp_path: Path, **config: object) -> tuple[NodeAgent, FakeClient, Runtime]:
    client, runtime = FakeClient(), Runtime()
    cfg = KubeletConfig(node_name="n1", root_dir=str(tmp_path), node_ip="192.0.2.7", port=10301,
                        **config)  # type: ignore[arg-type]
    return NodeAgent(client, cfg, runtime), client, runtime  # type: ignore[arg-type]


async def test_registration_creates_a_complete_node(tmp_path: Path) -> None:
    node, client, _ = agent(tmp_path, node_labels={"zone": "a"}, capacity_cpu="3",
                            capacity_memory="2Gi",
                            register_with_taints=[{"key": "k", "effect": "NoSchedule"}])
    await node.register()
    obj = client.objects[("nodes", None, "n1")]
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert obj["metadata"]["labels"]["zone"] == "a"
    assert obj["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    status = obj["status"]
    assert status["capacity"]["cpu"] == "3" and status["capacity"]["memory"] == "2097152Ki"
    assert status["capacity"]["pods"] == "110" and status["allocatable"] == status["capacity"]
    assert status["nodeInfo"]["containerRuntimeVersion"] == "docker://20.10.24"
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.4-k8py"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10301}}
    assert status["addresses"][0] == {"type": "InternalIP", "address": "192.0.2.7"}
    assert status["images"] == [{"names": ["k8py/hello:1.0"], "sizeBytes": 5}]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
    assert node.registered and node.node_uid == "uid-n1"


async def test_reregistration_updates_the_existing_node(tmp_path: Path) -> None:
    node, client, _ = agent(tmp_path)
    await client.create("nodes", {"metadata": {"name": "n1", "labels": {"old": "x"}},
                                  "status": {"conditions": [
                                      {"type": "Ready", "status": "True",
                                       "lastTransitionTime": "2024-01-01T00:00:00Z"}]}})
    await node.register()
    obj = client.objects[("nodes", None, "n1")]
    assert obj["metadata"]["labels"]["old"] == "x"
    assert obj["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2024-01-01T00:00:00Z"  # no flip, no new transition


async def test_runtime_down_makes_the_node_not_ready(tmp_path: Path) -> None:
    node, client, runtime = agent(tmp_path)
    await node.register()
    runtime.up = False
    await node.update_status()
    ready = next(c for c in client.objects[("nodes", None, "n1")]["status"]["conditions"]
                 if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "KubeletNotReady", "container runtime is down")


async def test_lease_is_created_then_renewed(tmp_path: Path) -> None:
    node, client, _ = agent(tmp_path)
    await node.register()
    await node.renew_lease()
    lease = client.objects[("leases", LEASE_NAMESPACE, "n1")]
    assert lease["spec"]["holderIdentity"] == "n1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-n1"
    first = lease["spec"]["renewTime"]
    await node.renew_lease()
    assert client.calls[-1] == ("update", "leases", "n1")
    assert client.objects[("leases", LEASE_NAMESPACE, "n1")]["spec"]["renewTime"] >= first


async def test_a_conflicting_renewal_rereads_the_lease(tmp_path: Path) -> None:
    node, client, _ = agent(tmp_path)
    await node.renew_lease()

    async def conflict(*args: object, **kwargs: object) -> None:
        raise errors.Conflict("the object has been modified")

    original = client.update
    client.update = conflict  # type: ignore[method-assign]
    with pytest.raises(errors.Conflict):
        await node.renew_lease()
    client.update = original  # type: ignore[method-assign]
    await node.renew_lease()
    assert ("get", "leases", "n1") in client.calls
