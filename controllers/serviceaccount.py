"""The ServiceAccounts controller: every active namespace has a ``default`` ServiceAccount.

Pods name a service account (``default`` unless they say otherwise), so the
account must exist in every namespace from the moment it is created, and
come back if someone deletes it (``pkg/controller/serviceaccount``).
Namespaces that are being deleted are left alone: the API server would
refuse new content there anyway.
"""

from __future__ import annotations

from typing import Any

from controllers.base import QueueController, object_of
from controllers.manager import ControllerContext
from machinery import errors
from machinery.informer import DeletedFinalStateUnknown
from machinery.meta import is_being_deleted
from machinery.reconciler import Requeue

__all__ = ["ServiceAccountsController", "DEFAULT_SERVICE_ACCOUNTS"]

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNTS: tuple[str, ...] = ("default",)


class ServiceAccountsController(QueueController):
    """Keyed by namespace name."""

    def __init__(self, ctx: ControllerContext,
                 names: tuple[str, ...] = DEFAULT_SERVICE_ACCOUNTS) -> None:
        self.client = ctx.client
        self.names = names
        self.namespaces = ctx.informers.informer("namespaces")
        self.accounts = ctx.informers.informer("serviceaccounts")
        super().__init__("serviceaccount", [self.namespaces, self.accounts], clock=ctx.clock)
        self.namespaces.add_handler(self.enqueue, lambda _old, new: self.enqueue(new))
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _account_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        meta = object_of(obj).get("metadata") or {}
        if meta.get("name") in self.names and meta.get("namespace"):
            self.queue.add(meta["namespace"])

    async def reconcile(self, key: str) -> Requeue | None:
        namespace = self.namespaces.get(key)
        if namespace is None or is_being_deleted(namespace) \
                or (namespace.get("status") or {}).get("phase") == "Terminating":
            return None
        for name in self.names:
            if self.accounts.get(f"{key}/{name}") is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create("serviceaccounts", account, key)
            except errors.AlreadyExists:
                continue  # our cache is behind; the account is there
            except errors.Forbidden:
                return None  # the namespace began terminating meanwhile
            except errors.NotFound:
                return None  # the namespace is gone
        return None
