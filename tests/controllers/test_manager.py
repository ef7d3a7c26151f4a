"""The controller table, ``--controllers`` selection and the process's flags."""

from __future__ import annotations

import argparse
import asyncio
import sys
import types

import pytest

from controllers.__main__ import build_parser, parse_duration
from controllers.manager import (
    CONTROLLERS,
    ControllerSpec,
    add_controller_flags,
    run_controllers,
    select_controllers,
)
from tests.controllers.fakeclient import fake_context

SPECS = [ControllerSpec("a", "x:A", "concurrent-a-syncs", 2),
         ControllerSpec("b", "x:B", "concurrent-b-syncs", 3),
         ControllerSpec("c", "x:C", "concurrent-c-syncs", enabled_by_default=False)]


def names(selection: str) -> list[str]:
    return [s.name for s in select_controllers(selection, SPECS)]


def test_selection_syntax() -> None:
    assert names("*") == ["a", "b"]
    assert names("*,-a") == ["b"]
    assert names("*,c") == ["a", "b", "c"]
    assert names("c") == ["c"]
    with pytest.raises(ValueError, match="unknown controller 'd'"):
        names("*,d")


def test_every_table_row_loads_and_has_its_flag() -> None:
    parser = argparse.ArgumentParser()
    add_controller_flags(parser)
    args = parser.parse_args([])
    for spec in CONTROLLERS:
        assert callable(spec.load())
        assert getattr(args, spec.workers_dest) == spec.default_workers


def test_worker_flags_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8PY_CONCURRENT_DEPLOYMENT_SYNCS", "9")
    args = build_parser().parse_args(["--master", "http://127.0.0.1:1"])
    assert args.concurrent_deployment_syncs == 9
    assert args.node_monitor_grace_period == 40.0
    assert args.leader_elect is True
    assert args.leader_elect_resource_name == "kube-controller-manager"
    assert args.leader_elect_resource_namespace == "kube-system"


@pytest.mark.parametrize(("text", "seconds"), [
    ("40s", 40.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("15", 15.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError):
        parse_duration("5 minutes")


async def test_run_controllers_builds_each_and_runs_it_with_its_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _, _ = fake_context(concurrent_deployment_syncs=7, concurrent_replicaset_syncs=2)
    ran: dict[str, int] = {}

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        async def run(self, workers: int) -> None:
            ran[self.name] = workers

    module = types.ModuleType("fake_controllers")
    module.D = lambda ctx: Recorder("deployment")  # type: ignore[attr-defined]
    module.R = lambda ctx: Recorder("replicaset")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_controllers", module)
    specs = [ControllerSpec("deployment", "fake_controllers:D", "concurrent-deployment-syncs"),
             ControllerSpec("replicaset", "fake_controllers:R", "concurrent-replicaset-syncs")]
    await asyncio.wait_for(run_controllers(ctx, specs), 5)
    assert ran == {"deployment": 7, "replicaset": 2}
