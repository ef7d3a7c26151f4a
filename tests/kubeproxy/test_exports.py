"""Every name a kube-proxy module (and the LoadBalancer controller) exports exists."""

from __future__ import annotations

import pytest

from tests.exports import assert_exported_members_exist

MODULES = ["kubeproxy.servicemap", "kubeproxy.rules", "kubeproxy.netns", "kubeproxy.userspace",
           "kubeproxy.proxier", "kubeproxy.__main__", "controllers.servicelb"]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    assert_exported_members_exist(name)
