"""The identity rules of StatefulSet pods and their claims (``stateful_set_utils.go``).

Pod ``<set>-<ordinal>`` is always the same replica: same name, same
``hostname``/``subdomain`` (so the same DNS name under the governing
Service), and the same PersistentVolumeClaims ``<template>-<set>-<ordinal>``,
which outlive the pod.  These functions say what a replica must look like and
whether a live pod still does; they make no API calls.

The claims' owner references encode ``persistentVolumeClaimRetentionPolicy``:
a claim owned by the set is garbage-collected with it (``whenDeleted:
Delete``), one owned by its pod goes with the pod once that ordinal is scaled
away (``whenScaled: Delete``), and a claim owned by neither stays.
"""

from __future__ import annotations

import re
from typing import Any

from controllers.history import REVISION_HASH_LABEL
from machinery.meta import (
    deepcopy_json,
    is_being_deleted,
    owner_reference,
    pod_is_available,
    pod_is_ready,
)

__all__ = [
    "POD_NAME_LABEL", "POD_INDEX_LABEL", "RETAIN", "DELETE", "parent_and_ordinal", "ordinal_of",
    "pod_name", "claim_name", "start_ordinal", "in_ordinal_range", "is_member_of",
    "new_pod", "update_identity", "update_storage", "identity_matches", "storage_matches",
    "claims_for", "pod_revision", "is_created", "is_running_and_ready", "is_healthy",
    "is_running_and_available", "is_terminal", "retention_policy", "claim_owners_match",
    "set_claim_owners", "has_stale_owner_ref",
]

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN = "Retain"
DELETE = "Delete"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """``("web", 2)`` for ``web-2``; ordinal -1 when the name has none."""
    match = _ORDINAL.match(str((pod.get("metadata") or {}).get("name") or ""))
    if match is None:
        return "", -1
    return match.group(1), int(match.group(2))


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(sts: Obj, template: Obj, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def in_ordinal_range(pod: Obj, sts: Obj) -> bool:
    start = start_ordinal(sts)
    return start <= ordinal_of(pod) < start + int(sts["spec"].get("replicas", 1))


def is_member_of(sts: Obj, pod: Obj) -> bool:
    """Named like one of the set's replicas (the selector alone is not enough)."""
    return parent_and_ordinal(pod)[0] == str(sts["metadata"]["name"])


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """The claims replica ``ordinal`` needs, by template (= volume) name."""
    match_labels = ((sts["spec"].get("selector") or {}).get("matchLabels") or {})
    claims: dict[str, Obj] = {}
    for template in sts["spec"].get("volumeClaimTemplates") or []:
        claim = deepcopy_json(template)
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        meta["name"] = claim_name(sts, template, ordinal)
        meta["namespace"] = sts["metadata"].get("namespace")
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims[template["metadata"]["name"]] = claim
    return claims


def update_identity(sts: Obj, pod: Obj, ordinal: int) -> None:
    meta = pod.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = sts["metadata"].get("namespace")
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def update_storage(sts: Obj, pod: Obj, ordinal: int) -> None:
    """Point the pod's claim volumes at its own claims, keeping its other volumes."""
    claims = claims_for(sts, ordinal)
    spec = pod.setdefault("spec", {})
    volumes = [{"name": name, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
               for name, c in claims.items()]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    spec["volumes"] = volumes


def new_pod(sts: Obj, ordinal: int, revision_name: str) -> Obj:
    """Replica ``ordinal`` from the set's template, labelled with its revision."""
    template = sts["spec"].get("template") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"ownerReferences": [owner_reference(sts)]}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta[field] = deepcopy_json(tmeta[field])
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": deepcopy_json(template.get("spec") or {})}
    update_identity(sts, pod, ordinal)
    pod["spec"]["hostname"] = meta["name"]
    if sts["spec"].get("serviceName"):
        pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    update_storage(sts, pod, ordinal)
    meta.setdefault("labels", {})[REVISION_HASH_LABEL] = revision_name
    return pod


def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (ordinal >= 0 and parent == sts["metadata"]["name"]
            and meta.get("namespace") == sts["metadata"].get("namespace")
            and labels.get(POD_NAME_LABEL) == meta.get("name")
            and labels.get(POD_INDEX_LABEL) == str(ordinal))


def storage_matches(sts: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for name, claim in claims_for(sts, ordinal).items():
        source = (volumes.get(name) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim["metadata"]["name"]:
            return False
    return True


def pod_revision(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_HASH_LABEL, ""))


# -- pod states, as the StatefulSet controller reads them -------------------------------


def is_created(pod: Obj | None) -> bool:
    """Known to the API server (it gave the pod a uid); a planned replica has none."""
    return pod is not None and bool((pod.get("metadata") or {}).get("uid"))


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_is_ready(pod)


def is_running_and_available(pod: Obj, min_ready: int, now: Any) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_is_available(
        pod, min_ready, now)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_being_deleted(pod)


# -- claim retention ---------------------------------------------------------------


def retention_policy(sts: Obj) -> tuple[str, str]:
    """``(whenDeleted, whenScaled)``; anything unknown counts as Retain."""
    policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    deleted = DELETE if policy.get("whenDeleted") == DELETE else RETAIN
    scaled = DELETE if policy.get("whenScaled") == DELETE else RETAIN
    return deleted, scaled


def _has_ref(claim: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(r.get("uid") == uid for r in claim["metadata"].get("ownerReferences") or [])


def has_stale_owner_ref(claim: Obj, owner: Obj) -> bool:
    """A reference to an earlier object of the owner's kind and name (another uid)."""
    meta = owner["metadata"]
    return any(r.get("kind") == owner.get("kind") and r.get("name") == meta.get("name")
               and r.get("uid") != meta.get("uid")
               for r in claim["metadata"].get("ownerReferences") or [])


def _wanted_owners(sts: Obj, pod: Obj) -> tuple[bool, bool]:
    """Whether the claim should name the set and the pod as owners."""
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    by_pod = when_scaled == DELETE and scaled_down
    by_set = when_deleted == DELETE and not by_pod
    return by_set, by_pod


def claim_owners_match(claim: Obj, sts: Obj, pod: Obj) -> bool:
    if has_stale_owner_ref(claim, sts) or has_stale_owner_ref(claim, pod):
        return False
    by_set, by_pod = _wanted_owners(sts, pod)
    return _has_ref(claim, sts) == by_set and _has_ref(claim, pod) == by_pod


def _plain_ref(owner: Obj) -> Obj:
    ref = owner_reference(owner, controller=False, block_owner_deletion=False)
    ref.pop("controller")
    ref.pop("blockOwnerDeletion")
    return ref


def set_claim_owners(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """Rewrite the claim's set and pod references for the policy; True when changed.

    References of earlier namesakes of the set or the pod go too.
    """
    by_set, by_pod = _wanted_owners(sts, pod)
    mine = {(o.get("kind"), o["metadata"].get("name")) for o in (sts, pod)}
    refs = [r for r in claim["metadata"].get("ownerReferences") or []
            if (r.get("kind"), r.get("name")) not in mine]
    if by_set:
        refs.append(_plain_ref(sts))
    if by_pod and pod["metadata"].get("uid"):
        refs.append(_plain_ref(pod))
    before = claim["metadata"].get("ownerReferences") or []
    if sorted(str(r.get("uid")) for r in refs) == sorted(str(r.get("uid")) for r in before):
        return False
    if refs:
        claim["metadata"]["ownerReferences"] = refs
    else:
        claim["metadata"].pop("ownerReferences", None)
    return True
