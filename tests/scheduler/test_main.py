"""``python -m scheduler``: flags with env fallbacks, the public API of every scheduler module."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import scheduler
import scheduler.plugins
from scheduler.__main__ import build_parser


def test_defaults_match_kube_scheduler() -> None:
    args = build_parser().parse_args([])
    assert args.leader_elect is True
    assert (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
            args.leader_elect_retry_period) == (15.0, 10.0, 2.0)
    assert args.leader_elect_resource_name == "kube-scheduler"
    assert args.leader_elect_resource_namespace == "kube-system"
    assert args.scheduler_name == "default-scheduler"
    assert args.health_port == 10259


def test_env_fallbacks_and_flags_winning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8PY_LEADER_ELECT", "false")
    monkeypatch.setenv("K8PY_MASTER", "http://127.0.0.1:6443")
    monkeypatch.setenv("KUBECONFIG", "/tmp/kubeconfig")
    monkeypatch.setenv("K8PY_LEADER_ELECT_RETRY_PERIOD", "0.5")
    args = build_parser().parse_args([])
    assert args.leader_elect is False and args.leader_elect_retry_period == 0.5
    assert args.master == "http://127.0.0.1:6443" and args.kubeconfig == "/tmp/kubeconfig"
    args = build_parser().parse_args(["--leader-elect", "--master", "http://127.0.0.1:1"])
    assert args.leader_elect is True and args.master == "http://127.0.0.1:1"


def test_exports_exist() -> None:
    for package in (scheduler, scheduler.plugins):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name in getattr(module, "__all__", ()):
                assert hasattr(module, name), f"{info.name}.{name}"
            if info.name != "scheduler.__main__":
                assert module.__all__, info.name
