"""NamespaceController: empty a terminating namespace, report progress, then finalize."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.namespace import FINALIZER, NamespaceController
from machinery import errors
from machinery.meta import get_condition
from machinery.reconciler import Requeue
from tests.controllers.fakeclient import FakeClient, fake_context

Obj = dict[str, Any]
WHEN = "2024-01-01T00:00:00Z"


def terminating(name: str = "doomed") -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "deletionTimestamp": WHEN},
            "spec": {"finalizers": [FINALIZER]}, "status": {"phase": "Terminating"}}


def configmap(name: str, ns: str = "doomed", **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, **meta}, "data": {"k": "v"}}


def service(name: str, ns: str = "doomed") -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"port": 80}]}}


def setup() -> tuple[NamespaceController, FakeClient]:
    ctx, client, _ = fake_context()
    return NamespaceController(ctx), client


async def test_empties_the_namespace_then_finalizes_it() -> None:
    controller, client = setup()
    client.seed(terminating(), configmap("a"), configmap("b"), service("web"),
                configmap("elsewhere", ns="kept"))

    assert await controller.reconcile("doomed") is None

    assert client.stored("configmaps", "a", "doomed") is None
    assert client.stored("services", "web", "doomed") is None
    assert client.stored("configmaps", "elsewhere", "kept") is not None
    finalize = [a for a in client.writes() if a.subresource == "finalize"]
    assert len(finalize) == 1 and finalize[0].body["spec"]["finalizers"] == []
    assert client.stored("namespaces", "doomed") is None
    # services have no collection delete: they go one by one
    assert ("delete", "services", "web") in [(a.verb, a.resource, a.name) for a in client.writes()]
    assert not any(a.verb == "deletecollection" and a.resource == "services"
                   for a in client.actions)


async def test_second_reconcile_after_finalizing_changes_nothing() -> None:
    controller, client = setup()
    client.seed(terminating(), configmap("a"))
    await controller.reconcile("doomed")
    writes = len(client.writes())

    await controller.reconcile("doomed")

    assert len(client.writes()) == writes


async def test_remaining_content_is_reported_and_rechecked() -> None:
    controller, client = setup()
    client.seed(terminating(), configmap("held", finalizers=["example.com/hold"]))

    result = await controller.reconcile("doomed")

    assert result == Requeue(after=1.0)
    ns = client.stored("namespaces", "doomed")
    assert ns is not None and ns["spec"]["finalizers"] == [FINALIZER]
    conditions = ns["status"]["conditions"]
    remaining = get_condition(conditions, "NamespaceContentRemaining")
    assert remaining is not None and remaining["status"] == "True"
    assert remaining["reason"] == "SomeResourcesRemain"
    assert remaining["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    finalizers = get_condition(conditions, "NamespaceFinalizersRemaining")
    assert finalizers is not None and finalizers["message"] == \
        "Some finalizers are remaining: example.com/hold in 1 resource instances"
    failure = get_condition(conditions, "NamespaceDeletionContentFailure")
    assert failure is not None and failure["status"] == "False"
    assert failure["reason"] == "ContentDeleted"

    status_writes = len([a for a in client.writes() if a.subresource == "status"])
    assert await controller.reconcile("doomed") == Requeue(after=1.0)
    assert len([a for a in client.writes() if a.subresource == "status"]) == status_writes == 1
    assert not any(a.subresource == "finalize" for a in client.writes())


async def test_content_gone_later_lets_the_namespace_go() -> None:
    controller, client = setup()
    client.seed(terminating(), configmap("held", finalizers=["example.com/hold"]))
    await controller.reconcile("doomed")

    await client.patch("configmaps", "held", {"metadata": {"finalizers": None}}, "doomed")
    assert await controller.reconcile("doomed") is None

    ns_conditions = [a.body["status"]["conditions"] for a in client.writes()
                     if a.subresource == "status"][-1]
    remaining = get_condition(ns_conditions, "NamespaceContentRemaining")
    assert remaining is not None and remaining["status"] == "False"
    assert client.stored("namespaces", "doomed") is None


async def test_delete_failures_become_a_condition_and_a_retry() -> None:
    controller, client = setup()
    client.seed(terminating(), configmap("a"))
    client.fail[("deletecollection", "secrets")] = errors.InternalError("etcd hiccup")

    with pytest.raises(errors.InternalError):
        await controller.reconcile("doomed")

    ns = client.stored("namespaces", "doomed")
    assert ns is not None
    failure = get_condition(ns["status"]["conditions"], "NamespaceDeletionContentFailure")
    assert failure is not None and failure["status"] == "True"
    assert failure["reason"] == "ContentDeletionFailed"
    assert failure["message"] == \
        "Failed to delete all resource types, 1 remaining: secrets: etcd hiccup"


async def test_active_or_already_finalized_namespaces_are_left_alone() -> None:
    controller, client = setup()
    active = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "live"},
              "spec": {"finalizers": [FINALIZER]}}
    other = terminating("others")
    other["spec"]["finalizers"] = ["example.com/theirs"]
    client.seed(active, other, configmap("x", ns="others"))

    await controller.reconcile("live")
    await controller.reconcile("others")
    await controller.reconcile("absent")

    assert client.actions == []


def test_only_terminating_namespaces_are_enqueued() -> None:
    controller, client = setup()
    client.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "live"}},
                terminating())

    assert len(controller.queue) == 1
