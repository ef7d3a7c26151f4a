"""ServiceAccountsController: a default account per active namespace, and only there."""

from __future__ import annotations

from controllers.serviceaccount import ServiceAccountsController
from machinery import errors
from tests.controllers.fakeclient import fake_context


def namespace(name: str, **extra: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **extra},
            "status": {"phase": "Active"}}


def account(ns: str, name: str = "default") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns}}


async def test_creates_default_account_in_new_namespace() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    client.seed(namespace("team-a"))

    assert await controller.reconcile("team-a") is None

    [action] = client.writes()
    assert (action.verb, action.resource, action.namespace, action.name) == \
        ("create", "serviceaccounts", "team-a", "default")
    assert controller.accounts.get("team-a/default") is not None


async def test_second_reconcile_changes_nothing() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    client.seed(namespace("team-a"))
    await controller.reconcile("team-a")
    before = len(client.writes())

    await controller.reconcile("team-a")

    assert len(client.writes()) == before == 1


async def test_existing_account_is_left_alone() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    client.seed(namespace("team-a"), account("team-a"))

    await controller.reconcile("team-a")

    assert client.writes() == []


async def test_terminating_or_missing_namespace_gets_nothing() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    client.seed(namespace("going", deletionTimestamp="2024-01-01T00:00:00Z"))

    await controller.reconcile("going")
    await controller.reconcile("never-existed")

    assert client.writes() == []


async def test_already_exists_from_a_stale_cache_is_fine() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    client.seed(namespace("team-a"))
    client.fail[("create", "serviceaccounts")] = errors.AlreadyExists("exists")

    assert await controller.reconcile("team-a") is None


async def test_deleting_the_default_account_enqueues_its_namespace() -> None:
    ctx, client, _ = fake_context()
    controller = ServiceAccountsController(ctx)
    [sa] = client.seed(account("team-a"))

    controller.accounts.apply({"type": "DELETED", "object": sa})
    other = account("team-a", "builder")
    controller.accounts.apply({"type": "DELETED", "object": other})

    assert len(controller.queue) == 1
    assert await controller.queue.get() == "team-a"
