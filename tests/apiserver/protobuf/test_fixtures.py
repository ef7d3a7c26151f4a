"""Every recorded kubectl 1.32 protobuf body decodes to the JSON kubectl prints for it.

The fixtures are kubectl's own bytes (``record.py`` made them): the body it
POSTed and the object it printed with ``--dry-run=client -o json``. A match
shows each table's field numbers and zero-value rules are right for every
field those commands set.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from apiserver.protobuf import UnsupportedProtobuf, decode_object, supported_kinds
from apiserver.protobuf.decode import SCALARS, WRAPPERS, parse_type
from apiserver.protobuf.tables import KINDS, MESSAGES
from apiserver.protobuf.wire import encode_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def comparable(obj: Any) -> Any:
    """Drop what JSON writes as ``null`` (zero Time, nil slices): absent and null mean the same."""
    if isinstance(obj, dict):
        return {k: comparable(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [comparable(v) for v in obj]
    return obj


def test_every_case_was_recorded() -> None:
    from tests.apiserver.protobuf.record import CASES

    assert sorted(c.name for c in CASES) == NAMES


@pytest.mark.parametrize("name", [n for n in NAMES if load(n)["json"] is not None])
def test_fixture_decodes_to_kubectls_json(name: str) -> None:
    fixture = load(name)
    decoded = decode_object(bytes.fromhex(fixture["body"]))
    expected = comparable(fixture["json"])
    got = comparable(decoded)
    if expected["kind"] in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
        # Status is the server's; a create carries only zeros, which stay unnamed in the tables.
        assert set(expected.pop("status").values()) == {0}
        assert got.pop("status") == {}
    assert got == expected


def test_token_request_has_no_dry_run_so_is_checked_by_hand() -> None:
    decoded = decode_object(bytes.fromhex(load("token")["body"]))
    assert decoded == {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
        "spec": {"audiences": ["a"], "expirationSeconds": 600,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "123"}},
        "status": {}}


@pytest.mark.parametrize("name, spec", [
    ("auth-can-i-resource", {"resourceAttributes": {
        "namespace": "ns1", "verb": "get", "resource": "pods.apps", "subresource": "log", "name": "x"}}),
    ("auth-can-i-group", {"resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments"}}),
    ("auth-can-i-path", {"nonResourceAttributes": {"path": "/logs", "verb": "get"}}),
    ("auth-can-i-list", {"namespace": "ns2"}),
])
def test_auth_reviews_carry_what_the_flags_say(name: str, spec: dict[str, Any]) -> None:
    review = decode_object(bytes.fromhex(load(name)["body"]))
    assert review["spec"] == spec and review["status"] == {}


def test_whoami_sends_an_empty_review() -> None:
    assert decode_object(bytes.fromhex(load("auth-whoami")["body"])) == {
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None}, "status": {}}


def test_debug_copy_sends_the_whole_pod() -> None:
    pod = decode_object(bytes.fromhex(load("debug-copy")["body"]))
    spec = pod["spec"]
    assert pod["metadata"] == {"name": "pb-copy", "namespace": "default", "creationTimestamp": None}
    assert (spec["nodeName"], spec["priority"], spec["shareProcessNamespace"]) == ("node-rich", 0, False)
    assert [c["image"] for c in spec["containers"]][:2] == ["main-img:1", "side-img:1"]
    assert spec["containers"][2]["name"].startswith("debugger-")
    assert spec["volumes"][0] == {"name": "v-cm", "configMap": {
        "name": "cm-rich", "items": [{"key": "ck", "path": "cp", "mode": 0o401}], "defaultMode": 0o400,
        "optional": True}}
    assert pod["status"] == {}


def test_debug_node_pod() -> None:
    pod = decode_object(bytes.fromhex(load("debug-node")["body"]))
    assert pod["spec"] == {
        "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}],
        "containers": [{"name": "debugger", "image": "busybox:1", "resources": {},
                        "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                        "terminationMessagePolicy": "File"}],
        "restartPolicy": "Never", "nodeName": "pb-node", "hostNetwork": True, "hostPID": True, "hostIPC": True,
        "tolerations": [{"operator": "Exists"}]}


def test_secret_data_stays_base64_like_json() -> None:
    decoded = decode_object(bytes.fromhex(load("secret-generic")["body"]))
    assert decoded["data"] == {"a": "Yg==", "bin.dat": "aGVsbG8A/w==", "e": ""}


def test_every_type_in_every_table_resolves() -> None:
    for name, table in MESSAGES.items():
        for number, (json_name, spec) in table.items():
            base = parse_type(spec).base
            assert base in SCALARS or base in WRAPPERS or base in MESSAGES, f"{name}.{number} {json_name}: {spec}"
            if not json_name:
                assert base in MESSAGES, f"{name}.{number} inlines a non-message"
    assert all(message in MESSAGES for message in KINDS.values())
    assert ("apps/v1", "Deployment") in supported_kinds()


def test_a_kind_without_a_table_is_refused() -> None:
    type_meta = encode_record(1, b"v1") + encode_record(2, b"Node")
    with pytest.raises(UnsupportedProtobuf, match="Node"):
        decode_object(b"k8s\x00" + encode_record(1, type_meta) + encode_record(2, b""))


@pytest.mark.parametrize("module", [
    "apiserver.protobuf", "apiserver.protobuf.wire", "apiserver.protobuf.decode", "apiserver.protobuf.envelope",
    "apiserver.protobuf.tables", "apiserver.protobuf.tables.meta", "apiserver.protobuf.tables.core",
    "apiserver.protobuf.tables.pods", "apiserver.protobuf.tables.containers", "apiserver.protobuf.tables.volumes",
    "apiserver.protobuf.tables.workloads", "apiserver.protobuf.tables.networking",
    "apiserver.protobuf.tables.policy", "apiserver.protobuf.tables.rbac", "apiserver.protobuf.tables.auth",
])
def test_modules_document_and_export(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__doc__
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
