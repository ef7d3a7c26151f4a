"""Every name the Job and CronJob modules export exists (httpx's exported-members guard)."""

from __future__ import annotations

import pytest

from tests.exports import assert_exported_members_exist

MODULES = [
    "controllers.job", "controllers.job.controller", "controllers.job.decide",
    "controllers.job.manage", "controllers.job.pods", "controllers.job.tracking",
    "controllers.job.ttl", "controllers.job.util", "controllers.cronjob",
    "controllers.cronjob.controller", "controllers.cronjob.schedule",
    "controllers.cronjob.timing",
]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    assert_exported_members_exist(name)
