"""The table of controllers the controller manager runs, and how they start.

Like kube-controller-manager's ``NewControllerDescriptors``, one table names
every controller, the flag that sets its worker count and the class that
implements it.  Classes are named by import path so the table can list
controllers whose modules load lazily, and adding a controller is one line.

A controller class takes a ``ControllerContext`` and has
``async def run(self, workers: int) -> None`` (``controllers.base.QueueController``
provides it for queue-driven controllers).  Controllers register the
informers they need while being constructed; the manager starts the shared
informers once all of them exist, then runs every controller concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from machinery.client import ApiClient
from machinery.component import flag
from machinery.events import EventBroadcaster, EventRecorder
from machinery.informer import SharedInformerFactory
from machinery.workqueue import Clock, RealClock

__all__ = [
    "Controller",
    "ControllerContext",
    "ControllerSpec",
    "ControllerFlag",
    "CONTROLLERS",
    "add_controller_flags",
    "select_controllers",
    "run_controllers",
]


class Controller(Protocol):
    async def run(self, workers: int) -> None: ...


@dataclass
class ControllerContext:
    """What every controller is built from: one client, shared caches, the flags."""

    client: ApiClient
    informers: SharedInformerFactory
    events: EventBroadcaster
    options: argparse.Namespace = field(default_factory=argparse.Namespace)
    clock: Clock = field(default_factory=RealClock)
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def recorder(self, component: str) -> EventRecorder:
        return self.events.recorder(component)

    def option(self, name: str, default: Any = None) -> Any:
        """A flag value by its dest name (``node_monitor_grace_period``)."""
        return getattr(self.options, name, default)


@dataclass(frozen=True)
class ControllerFlag:
    """A setting of one controller, read back with ``ctx.option(<name with underscores>)``."""

    name: str
    default: Any
    type: Callable[[str], Any]
    help: str


@dataclass(frozen=True)
class ControllerSpec:
    """One row of the table.

    ``target`` is ``"module:Class"``; ``workers_flag`` (without dashes) becomes a
    ``--<flag>`` option with a ``K8PY_<FLAG>`` env fallback, and so does each of
    ``flags``.
    """

    name: str
    target: str
    workers_flag: str
    default_workers: int = 5
    enabled_by_default: bool = True
    flags: tuple[ControllerFlag, ...] = ()

    @property
    def workers_dest(self) -> str:
        return self.workers_flag.replace("-", "_")

    def load(self) -> Callable[[ControllerContext], Controller]:
        module, _, attr = self.target.partition(":")
        factory: Callable[[ControllerContext], Controller] = getattr(
            importlib.import_module(module), attr)
        return factory


CONTROLLERS: list[ControllerSpec] = [
    ControllerSpec("deployment", "controllers.deployment:DeploymentController",
                   "concurrent-deployment-syncs", 5),
    ControllerSpec("replicaset", "controllers.replicaset:ReplicaSetController",
                   "concurrent-replicaset-syncs", 5),
    ControllerSpec("garbagecollector", "controllers.garbagecollector:GarbageCollector",
                   "concurrent-gc-syncs", 20),
    ControllerSpec("namespace", "controllers.namespace:NamespaceController",
                   "concurrent-namespace-syncs", 10),
    ControllerSpec("serviceaccount", "controllers.serviceaccount:ServiceAccountsController",
                   "concurrent-serviceaccount-syncs", 1),
    ControllerSpec("nodelifecycle", "controllers.nodelifecycle:NodeLifecycleController",
                   "concurrent-node-lifecycle-syncs", 1),
    ControllerSpec("endpoint", "controllers.endpoints:EndpointsController",
                   "concurrent-endpoint-syncs", 5),
    ControllerSpec("endpointslice", "controllers.endpointslice:EndpointSliceController",
                   "concurrent-service-endpoint-syncs", 5),
    ControllerSpec("servicelb", "controllers.servicelb:ServiceLBController",
                   "concurrent-service-syncs", 1),
    ControllerSpec("job", "controllers.job:JobController", "concurrent-job-syncs", 5, flags=(
        ControllerFlag("job-pod-failure-backoff", 10.0, float,
                       "seconds a Job waits after its first pod failure (doubling, at most "
                       "6 minutes)"),)),
    ControllerSpec("ttl-after-finished", "controllers.job:TTLAfterFinishedController",
                   "concurrent-ttl-after-finished-syncs", 5),
    ControllerSpec("cronjob", "controllers.cronjob:CronJobController",
                   "concurrent-cron-job-syncs", 5),
    ControllerSpec("statefulset", "controllers.statefulset:StatefulSetController",
                   "concurrent-statefulset-syncs", 5),
    ControllerSpec("daemonset", "controllers.daemonset:DaemonSetController",
                   "concurrent-daemonset-syncs", 2),
    ControllerSpec("persistentvolume-binder",
                   "controllers.persistentvolume:PersistentVolumeController",
                   "concurrent-persistentvolume-syncs", 1, flags=(
                       ControllerFlag("volume-root", "/var/lib/k8py/volumes", str,
                                      "host folder of k8py.io/local-path volumes (the default "
                                      "StorageClass); the same path on every node"),)),
    ControllerSpec("pvc-protection", "controllers.pvcprotection:PVCProtectionController",
                   "concurrent-pvc-protection-syncs", 2),
]


def add_controller_flags(parser: argparse.ArgumentParser,
                         specs: Iterable[ControllerSpec] = ()) -> None:
    """``--controllers`` plus one worker-count flag per table row."""
    rows = list(specs) or CONTROLLERS
    flag(parser, "--controllers", env="K8PY_CONTROLLERS", default="*",
         help="controllers to run: '*' for all on by default, 'foo' to add, '-foo' to remove; "
              f"known: {', '.join(s.name for s in rows)}")
    seen: set[str] = set()
    for spec in rows:
        for extra in spec.flags:
            if extra.name not in seen:
                seen.add(extra.name)
                flag(parser, f"--{extra.name}", env="K8PY_" + extra.name.replace("-", "_").upper(),
                     default=extra.default, type=extra.type, help=extra.help)
        if spec.workers_flag in seen:
            continue
        seen.add(spec.workers_flag)
        flag(parser, f"--{spec.workers_flag}", env="K8PY_" + spec.workers_dest.upper(),
             default=spec.default_workers, type=int,
             help=f"workers of the {spec.name} controller")


def select_controllers(selection: str, specs: Iterable[ControllerSpec] = ()) -> list[ControllerSpec]:
    """Apply kube-controller-manager's ``--controllers`` syntax to the table."""
    rows = list(specs) or CONTROLLERS
    known = {s.name for s in rows}
    items = [item.strip() for item in selection.split(",") if item.strip()]
    for item in items:
        name = item.lstrip("-")
        if name != "*" and name not in known:
            raise ValueError(f"unknown controller {name!r}; known: {', '.join(sorted(known))}")
    star = "*" in items
    chosen = []
    for spec in rows:
        if f"-{spec.name}" in items:
            continue
        if spec.name in items or (star and spec.enabled_by_default):
            chosen.append(spec)
    return chosen


async def run_controllers(ctx: ControllerContext, specs: Iterable[ControllerSpec]) -> None:
    """Build every controller, start the shared informers, run until cancelled."""
    built: list[tuple[ControllerSpec, Controller]] = []
    for spec in specs:
        controller = spec.load()(ctx)
        built.append((spec, controller))
    await ctx.informers.start()
    try:
        async with asyncio.TaskGroup() as group:
            for spec, controller in built:
                workers = int(ctx.option(spec.workers_dest, spec.default_workers))
                group.create_task(controller.run(workers), name=f"controller-{spec.name}")
    finally:
        await ctx.informers.stop()
