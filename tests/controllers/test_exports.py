"""Every name a workload module exports exists (httpx's exported-members guard)."""

from __future__ import annotations

import pytest

from tests.exports import assert_exported_members_exist

MODULES = [
    "controllers.base", "controllers.manager", "controllers.__main__", "controllers.replicaset",
    "controllers.podranking", "controllers.refmanager", "controllers.owners",
    "controllers.podcontrol",
    "controllers.deployment",
    "controllers.deployment.controller", "controllers.deployment.sync",
    "controllers.deployment.rolling", "controllers.deployment.recreate",
    "controllers.deployment.rollback", "controllers.deployment.progress",
    "controllers.deployment.util", "machinery.events", "machinery.expectations",
    "machinery.slowstart", "machinery.rollout", "machinery.leaderflags", "cli.rollout",
    "cli.rolloutstatus", "controllers.history", "controllers.workload",
    "controllers.statefulset", "controllers.statefulset.controller",
    "controllers.statefulset.control", "controllers.statefulset.podcontrol",
    "controllers.statefulset.identity", "controllers.daemonset",
    "controllers.daemonset.controller", "controllers.daemonset.sync",
    "controllers.daemonset.rolling", "controllers.daemonset.status",
    "controllers.daemonset.util", "controllers.persistentvolume",
    "controllers.persistentvolume.controller", "controllers.persistentvolume.match",
    "controllers.persistentvolume.localpath", "controllers.pvcprotection",
    "machinery.nodeaffinity",
]


@pytest.mark.parametrize("name", MODULES)
def test_exported_members_exist(name: str) -> None:
    assert_exported_members_exist(name)
