"""Every module of the kubelet's pod machinery declares its public names, and each exists."""

from __future__ import annotations

import importlib

import pytest

# The streaming server's modules (server, logs, streams, portforward ...) have their own guard.
MODULES = ["backoff", "config", "containers", "context", "env", "gc", "images", "kubelet",
           "lifecycle", "machine", "node", "pods", "probes", "projection", "runtime", "sandbox",
           "status", "sync", "volumes"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(f"kubelet.{name}")
    assert module.__doc__, f"kubelet.{name} has no module docstring"
    exported = getattr(module, "__all__", None)
    assert exported, f"kubelet.{name} has no __all__"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"kubelet.{name}.__all__ names missing attributes: {missing}"
