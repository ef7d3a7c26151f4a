"""Every name a kube-proxy module (and the LoadBalancer controller) exports exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["kubeproxy.servicemap", "kubeproxy.rules", "kubeproxy.netns", "kubeproxy.userspace",
           "kubeproxy.proxier", "kubeproxy.__main__", "controllers.servicelb"]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.{member}"
