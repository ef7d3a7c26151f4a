"""Finalizers the API server adds on create (StorageObjectInUseProtection)."""

from __future__ import annotations

from apiserver.strategy import add_create_finalizers
from machinery.resources import lookup


def test_claims_get_the_protection_finalizer_once_after_their_own() -> None:
    claims = lookup("persistentvolumeclaims")
    assert claims is not None
    claim = {"metadata": {"name": "data", "finalizers": ["example.com/keep"]}}

    add_create_finalizers(claims, claim)
    add_create_finalizers(claims, claim)

    assert claim["metadata"]["finalizers"] == ["example.com/keep", "kubernetes.io/pvc-protection"]


def test_other_kinds_are_left_alone() -> None:
    pods = lookup("pods")
    assert pods is not None
    pod: dict[str, dict[str, str]] = {"metadata": {"name": "p"}}

    add_create_finalizers(pods, pod)

    assert "finalizers" not in pod["metadata"]
