"""Every name the DNS and ingress modules (and their machinery helpers) export exists."""

from __future__ import annotations

import pytest

from tests.exports import assert_exported_members_exist

MODULES = [
    "dns.records", "dns.server", "dns.forward", "dns.publish", "dns.__main__",
    "ingress.routes", "ingress.http11", "ingress.proxy", "ingress.status", "ingress.__main__",
    "machinery.cacheview", "machinery.apiflags", "machinery.endpointslices",
]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    assert_exported_members_exist(name)
