"""Container specs to Docker arguments: entrypoint rules, resources, security, mounts, labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelet.containers import ContainerSetup, docker_args, security_user, spec_hash
from kubelet.env import ConfigError
from kubelet.volumes import VolumeSource

Obj = dict[str, Any]
BASE = {"io.k8py.cluster": "c", "io.k8py.node": "n"}


def pod(container: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 7, **spec}}


def args(container: Obj, *, env: dict[str, str] | None = None,
         volumes: dict[str, VolumeSource] | None = None, image_user: str = "",
         **spec: Any) -> tuple[Obj, Obj, str]:
    setup = ContainerSetup("app", 2, "sandbox-id", env or {}, volumes or {},
                           image_user=image_user, hosts_file="/r/etc-hosts",
                           resolv_file="/r/resolv.conf", termination_log="/r/term")
    return docker_args(pod(container, **spec), container, setup, BASE)


@pytest.mark.parametrize("spec,entrypoint,command", [
    ({}, None, None),
    ({"command": ["/bin/app"]}, ["/bin/app"], None),
    ({"args": ["--x"]}, None, ["--x"]),
    ({"command": ["sh", "-c"], "args": ["echo $(MSG)"]}, ["sh", "-c"], ["echo hi"]),
])
def test_command_and_args_replace_entrypoint_and_cmd(spec: Obj, entrypoint: Any,
                                                     command: Any) -> None:
    config, _, _ = args({"name": "c", "image": "img", **spec}, env={"MSG": "hi"})
    assert config.get("entrypoint") == entrypoint
    assert config.get("command") == command


def test_identity_labels_namespaces_and_name() -> None:
    container = {"name": "c", "image": "img", "workingDir": "/w", "stdin": True, "tty": True}
    config, host, name = args(container, env={"A": "1"})
    assert name == "k8py_c_p_ns_u1_2"
    assert config["labels"] == {**BASE, "io.k8py.namespace": "ns", "io.k8py.pod": "p",
                                "io.k8py.pod-uid": "u1", "io.k8py.container": "c",
                                "io.k8py.kind": "app", "io.k8py.restart-count": "2",
                                "io.k8py.container-hash": spec_hash(container),
                                "io.k8py.termination-grace-period": "7"}
    assert config["environment"] == ["A=1"] and config["working_dir"] == "/w"
    assert config["stdin_open"] and config["tty"]
    assert host["network_mode"] == host["ipc_mode"] == "container:sandbox-id"
    assert "pid_mode" not in host and host["restart_policy"] == {"Name": "no"}
    targets = {m["Target"]: m["Source"] for m in host["mounts"]}
    assert targets == {"/etc/hosts": "/r/etc-hosts", "/etc/resolv.conf": "/r/resolv.conf",
                       "/dev/termination-log": "/r/term"}
    _, host, _ = args(container, shareProcessNamespace=True)
    assert host["pid_mode"] == "container:sandbox-id"


def test_spec_hash_follows_the_spec() -> None:
    assert spec_hash({"name": "c", "image": "a"}) == spec_hash({"image": "a", "name": "c"})
    assert spec_hash({"name": "c", "image": "a"}) != spec_hash({"name": "c", "image": "b"})


def test_resources_become_cgroup_limits() -> None:
    _, host, _ = args({"name": "c", "image": "img", "resources": {
        "limits": {"memory": "128Mi", "cpu": "500m"}, "requests": {"memory": "64Mi",
                                                                   "cpu": "250m"}}})
    assert host["mem_limit"] == host["memswap_limit"] == 128 << 20
    assert host["mem_reservation"] == 64 << 20
    assert host["nano_cpus"] == 500_000_000 and host["cpu_shares"] == 256
    _, host, _ = args({"name": "c", "image": "img"})
    assert host["cpu_shares"] == 2 and "mem_limit" not in host  # BestEffort


def test_security_context() -> None:
    container = {"name": "c", "image": "img", "securityContext": {
        "runAsUser": 1000, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}
    config, host, _ = args(container, securityContext={"runAsGroup": 3000, "fsGroup": 2000,
                                                       "supplementalGroups": [4000]})
    assert config["user"] == "1000:3000"
    assert host["read_only"] and host["security_opt"] == ["no-new-privileges"]
    assert host["cap_add"] == ["NET_ADMIN"] and host["cap_drop"] == ["ALL"]
    assert host["group_add"] == ["4000", "2000"]
    with pytest.raises(ConfigError, match="privileged"):
        args({"name": "c", "image": "img", "securityContext": {"privileged": True}})


def test_run_as_non_root_checks_the_image_user() -> None:
    p = pod({}, securityContext={"runAsNonRoot": True})
    with pytest.raises(ConfigError, match="image will run as root"):
        security_user(p, {"name": "c"}, "")
    with pytest.raises(ConfigError, match="non-numeric user"):
        security_user(p, {"name": "c"}, "nobody")
    assert security_user(p, {"name": "c"}, "65534") is None
    assert security_user(p, {"name": "c", "securityContext": {"runAsUser": 7}}, "") == "7"


def test_mounts(tmp_path: Path) -> None:
    volumes = {"data": VolumeSource("bind", str(tmp_path), False, True),
               "cfg": VolumeSource("bind", "/cfg", True, True),
               "mem": VolumeSource("volume", "k8py-u1-mem", False, False)}
    container = {"name": "c", "image": "img", "volumeMounts": [
        {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD)/logs"},
        {"name": "cfg", "mountPath": "/etc/cfg"},
        {"name": "data", "mountPath": "/ro", "readOnly": True},
        {"name": "mem", "mountPath": "/cache"}]}
    _, host, _ = args(container, env={"POD": "p"}, volumes=volumes)
    by_target = {m["Target"]: m for m in host["mounts"]}
    assert by_target["/data"]["Source"] == str(tmp_path / "p" / "logs")
    assert (tmp_path / "p" / "logs").is_dir()
    assert by_target["/etc/cfg"]["ReadOnly"] and by_target["/ro"]["ReadOnly"]
    assert not by_target["/data"]["ReadOnly"]
    assert by_target["/cache"]["Type"] == "volume"
    with pytest.raises(ConfigError, match="subPath is not supported"):
        args({"name": "c", "image": "img",
              "volumeMounts": [{"name": "mem", "mountPath": "/m", "subPath": "x"}]},
             volumes=volumes)
    with pytest.raises(ConfigError, match="invalid subpath"):
        args({"name": "c", "image": "img",
              "volumeMounts": [{"name": "data", "mountPath": "/m", "subPath": "../etc"}]},
             volumes=volumes)
    with pytest.raises(ConfigError, match="unable to find volume"):
        args({"name": "c", "image": "img", "volumeMounts": [{"name": "x", "mountPath": "/m"}]})
