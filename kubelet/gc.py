"""Housekeeping: Docker objects and folders that no pod needs any more.

Runs every few seconds once the pod informer has synced (before that, every
pod would look orphaned).  Three kinds of leftovers:

* containers of a pod uid the API does not have: handed to a pod worker
  that stops and removes them (the kubelet may have been down when the pod
  was deleted);
* dead instances of a pod's containers: the newest instance of each
  container stays (its status, and the exit an init container succeeded
  with), plus the newest dead one before it for ``kubectl logs --previous``;
  older sandboxes go too;
* pod folders under the root dir with neither a pod nor containers.

It also forgets back-off entries that have been quiet long enough to reset.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelet.backoff import Backoff
from kubelet.pods import PodWorkers
from kubelet.runtime import (
    LABEL_CONTAINER, LABEL_KIND, LABEL_POD_UID, LABEL_RESTART_COUNT, DockerRuntime,
)
from kubelet.volumes import VolumeManager
from machinery.informer import Informer

__all__ = ["Housekeeping", "dead_to_remove"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)


def _age_key(row: Obj) -> tuple[int, int]:
    """Newest last: by restart count (exact), then creation second."""
    count = str((row.get("Labels") or {}).get(LABEL_RESTART_COUNT, "0"))
    return int(count) if count.isdigit() else 0, int(row.get("Created") or 0)


def dead_to_remove(rows: list[Obj]) -> list[str]:
    """Ids of dead containers to remove, from ``docker ps -a`` rows of live pods."""
    groups: dict[tuple[str, str, str], list[Obj]] = {}
    for row in rows:
        labels = row.get("Labels") or {}
        key = (labels.get(LABEL_POD_UID, ""), labels.get(LABEL_KIND, ""),
               labels.get(LABEL_CONTAINER, ""))
        groups.setdefault(key, []).append(row)
    doomed: list[str] = []
    for (_, kind, _), members in groups.items():
        members.sort(key=_age_key, reverse=True)
        kept_previous = kind == "sandbox"  # sandboxes keep no history
        for row in members[1:]:
            if row.get("State") in ("running", "restarting", "paused", "removing"):
                continue
            if not kept_previous:
                kept_previous = True
                continue
            doomed.append(str(row["Id"]))
    return doomed


class Housekeeping:
    def __init__(self, runtime: DockerRuntime, workers: PodWorkers, informer: Informer,
                 volumes: VolumeManager, backoffs: list[Backoff] | None = None,
                 period: float = 2.0) -> None:
        self.runtime = runtime
        self.workers = workers
        self.informer = informer
        self.volumes = volumes
        self.backoffs = backoffs or []
        self.period = period

    async def run_once(self) -> None:
        rows = await self.runtime.list_summaries()
        known = {str((p.get("metadata") or {}).get("uid")) for p in self.informer.list()}
        busy = self.workers.uids()
        in_docker = {(r.get("Labels") or {}).get(LABEL_POD_UID, "") for r in rows} - {""}
        for uid in in_docker - known - busy:
            log.info("containers of pod uid %s have no pod; tearing them down", uid)
            self.workers.orphan(uid)
        live = [r for r in rows if (r.get("Labels") or {}).get(LABEL_POD_UID) in known]
        for container_id in dead_to_remove(live):
            await self.runtime.remove(container_id)
        for uid in set(self.volumes.known_pod_dirs()) - known - busy - in_docker:
            log.info("removing the folder of pod uid %s", uid)
            await self.volumes.cleanup(uid)
        for backoff in self.backoffs:
            backoff.gc()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("housekeeping failed: %s", exc)
            await asyncio.sleep(self.period)
