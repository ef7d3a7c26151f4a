"""The writes a StatefulSet sync makes: pods and their claims, each with its event.

As ``stateful_pod_control.go``: a pod's claims are created before the pod,
so the pod never starts without its storage; a claim already being deleted
holds the pod back rather than letting it bind a doomed volume; and claim
owner references are kept in line with the retention policy.  Creates and
deletes are announced to the controller's expectations before they are
sent, because their watch events may arrive before the calls return.
"""

from __future__ import annotations

from typing import Any

from controllers.podcontrol import (
    FAILED_CREATE,
    FAILED_DELETE,
    SUCCESSFUL_CREATE,
    SUCCESSFUL_DELETE,
)
from controllers.statefulset.identity import (
    DELETE,
    claim_owners_match,
    claims_for,
    has_stale_owner_ref,
    identity_matches,
    ordinal_of,
    retention_policy,
    set_claim_owners,
    storage_matches,
    update_identity,
    update_storage,
)
from machinery import errors
from machinery.client import ApiClient
from machinery.events import NORMAL, WARNING, EventRecorder
from machinery.expectations import ControllerExpectations, UIDTrackingExpectations
from machinery.informer import Informer, meta_key
from machinery.meta import deepcopy_json, is_being_deleted

__all__ = ["StatefulPodControl", "SUCCESSFUL_CREATE", "FAILED_CREATE", "SUCCESSFUL_DELETE",
           "FAILED_DELETE", "SUCCESSFUL_UPDATE", "FAILED_UPDATE"]

Obj = dict[str, Any]

SUCCESSFUL_UPDATE = "SuccessfulUpdate"
FAILED_UPDATE = "FailedUpdate"


class StatefulPodControl:
    def __init__(self, client: ApiClient, recorder: EventRecorder, claims: Informer,
                 creations: ControllerExpectations,
                 deletions: UIDTrackingExpectations) -> None:
        self.client = client
        self.recorder = recorder
        self.claims = claims
        self.creations = creations
        self.deletions = deletions

    def _pod_event(self, verb: str, sts: Obj, pod: Obj, error: Exception | None) -> None:
        what = f"{verb} Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']}"
        if error is None:
            self.recorder.event(sts, NORMAL, f"Successful{verb.title()}", f"{what} successful")
        else:
            self.recorder.event(sts, WARNING, f"Failed{verb.title()}",
                                f"{what} failed error: {error}")

    def _claim_event(self, sts: Obj, pod: Obj, claim: Obj, error: Exception | None) -> None:
        what = (f"create Claim {claim['metadata']['name']} Pod {pod['metadata']['name']} "
                f"in StatefulSet {sts['metadata']['name']}")
        if error is None:
            self.recorder.event(sts, NORMAL, SUCCESSFUL_CREATE, f"{what} success")
        else:
            self.recorder.event(sts, WARNING, FAILED_CREATE, f"{what} failed error: {error}")

    def cached_claim(self, namespace: str | None, name: str) -> Obj | None:
        return self.claims.get(f"{namespace}/{name}")

    # -- pods ------------------------------------------------------------------------

    async def create(self, sts: Obj, pod: Obj) -> None:
        """Create the pod's missing claims, then the pod."""
        await self.create_missing_claims(sts, pod)
        key = meta_key(sts)
        expected = self.creations.get(key)
        if expected is None or expected.add <= 0:
            self.creations.set(key, 1, 0)
        else:
            self.creations.raise_(key, add=1)
        try:
            await self.client.create("pods", pod)
        except errors.ApiError as exc:
            self.creations.creation_observed(key)  # never made, so never seen
            if not isinstance(exc, errors.AlreadyExists):
                self._pod_event("create", sts, pod, exc)
            raise
        self._pod_event("create", sts, pod, None)

    async def delete(self, sts: Obj, pod: Obj) -> None:
        key, pod_key = meta_key(sts), meta_key(pod)
        self.deletions.expect_deletions_of(key, self.deletions.pending_deletions(key) | {pod_key})
        meta = pod["metadata"]
        try:
            await self.client.delete("pods", meta["name"], meta.get("namespace"),
                                     preconditions={"uid": meta.get("uid")})
        except errors.NotFound:
            self.deletions.deletion_observed_of(key, pod_key)
            return
        except errors.ApiError as exc:
            self.deletions.deletion_observed_of(key, pod_key)
            self._pod_event("delete", sts, pod, exc)
            raise
        self._pod_event("delete", sts, pod, None)

    async def update(self, sts: Obj, pod: Obj) -> None:
        """Restore the pod's identity and storage, and its claims' owners."""
        fresh = deepcopy_json(pod)
        ordinal = ordinal_of(fresh)
        consistent = True
        if not identity_matches(sts, fresh):
            update_identity(sts, fresh, ordinal)
            consistent = False
        if not storage_matches(sts, fresh):
            update_storage(sts, fresh, ordinal)
            consistent = False
            await self.create_missing_claims(sts, fresh)
        if not self.claims_match_policy(sts, fresh):
            await self.fix_claim_owners(sts, fresh)
        if consistent:
            return
        try:
            await self.client.update("pods", fresh)
        except errors.ApiError as exc:
            self._pod_event("update", sts, fresh, exc)
            raise
        self._pod_event("update", sts, fresh, None)

    # -- claims ----------------------------------------------------------------------

    async def create_missing_claims(self, sts: Obj, pod: Obj) -> None:
        failures: list[Exception] = []
        for claim in claims_for(sts, ordinal_of(pod)).values():
            meta = claim["metadata"]
            existing = self.cached_claim(meta.get("namespace"), meta["name"])
            if existing is not None:
                if is_being_deleted(existing):
                    failures.append(errors.Conflict(f"pvc {meta['name']} is being deleted"))
                continue
            set_claim_owners(claim, sts, pod)
            try:
                await self.client.create("persistentvolumeclaims", claim)
            except errors.AlreadyExists:
                continue  # made by an earlier sync the cache has not shown yet
            except errors.ApiError as exc:
                failures.append(exc)
                self._claim_event(sts, pod, claim, exc)
                continue
            self._claim_event(sts, pod, claim, None)
        if failures:
            raise failures[0]

    def claims_match_policy(self, sts: Obj, pod: Obj) -> bool:
        """Whether every existing claim of the pod has the owners the policy asks for."""
        for claim in claims_for(sts, ordinal_of(pod)).values():
            meta = claim["metadata"]
            cached = self.cached_claim(meta.get("namespace"), meta["name"])
            if cached is not None and not claim_owners_match(cached, sts, pod):
                return False
        return True

    async def fix_claim_owners(self, sts: Obj, pod: Obj) -> None:
        for claim in claims_for(sts, ordinal_of(pod)).values():
            meta = claim["metadata"]
            cached = self.cached_claim(meta.get("namespace"), meta["name"])
            if cached is None or claim_owners_match(cached, sts, pod):
                continue
            fresh = deepcopy_json(cached)
            if set_claim_owners(fresh, sts, pod):
                await self.client.update("persistentvolumeclaims", fresh)

    def claim_is_stale(self, sts: Obj, pod: Obj) -> bool:
        """A claim still owned by an earlier pod of this name must go before the pod returns.

        Only with ``whenScaled: Delete``: the garbage collector is about to
        delete that claim, and a new pod must not bind it meanwhile.
        """
        if retention_policy(sts)[1] != DELETE:
            return False
        for claim in claims_for(sts, ordinal_of(pod)).values():
            meta = claim["metadata"]
            cached = self.cached_claim(meta.get("namespace"), meta["name"])
            if cached is not None and has_stale_owner_ref(cached, pod):
                return True
        return False
