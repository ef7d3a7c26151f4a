"""Kubelet flags: list syntaxes, environment fallbacks and derived defaults."""

from __future__ import annotations

import pytest

from kubelet.config import KubeletConfig, build_parser, from_args, parse_labels, parse_taints


def test_node_labels_and_taints_syntax() -> None:
    assert parse_labels("a=b, zone=x ,") == {"a": "b", "zone": "x"}
    assert parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule") == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "spot", "effect": "PreferNoSchedule"}]
    with pytest.raises(ValueError):
        parse_labels("novalue")
    with pytest.raises(ValueError):
        parse_taints("key=value:Sometimes")


def test_flags_env_fallbacks_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8PY_CLUSTER_DNS", "10.96.0.10")
    monkeypatch.setenv("K8PY_MAX_PODS", "30")
    args = build_parser().parse_args(["--node-name", "n7", "--api-server", "http://127.0.0.1:1",
                                      "--node-ip", "10.0.0.7", "--register-with-taints",
                                      "a:NoExecute"])
    config = from_args(args)
    assert config.cluster_dns == ["10.96.0.10"] and config.max_pods == 30
    assert config.root_dir == "/var/lib/k8py/kubelet/n7"
    assert config.network == "k8py" and config.pod_cidr == "10.244.0.0/16"
    assert config.pod_infra_image == "k8py/pause:3.10" and config.port == 10250
    assert config.register_with_taints == [{"key": "a", "effect": "NoExecute"}]
    assert config.node_ip == "10.0.0.7"


def test_an_api_server_is_required() -> None:
    with pytest.raises(ValueError):
        from_args(build_parser().parse_args(["--node-name", "n"]))


def test_process_mode_defaults_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.path.exists", lambda path: False)
    assert KubeletConfig(node_name="n").node_ip == "127.0.0.1"
