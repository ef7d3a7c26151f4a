"""Every name the DNS and ingress modules (and their machinery helpers) export exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "dns.records", "dns.server", "dns.forward", "dns.publish", "dns.__main__",
    "ingress.routes", "ingress.http11", "ingress.proxy", "ingress.status", "ingress.__main__",
    "machinery.cacheview", "machinery.apiflags", "machinery.endpointslices",
]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.{member}"
