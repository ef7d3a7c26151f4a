"""Test doubles for the kubelet's collaborators: Docker, events, API objects, the API client.

``FakeRuntime`` keeps containers as ``ContainerInfo`` records and answers the
same async calls as ``DockerRuntime``; tests make containers exit with
``exit()``.  Time comes from a ``FakeClock`` shared with the back-off, so
crash loops unfold without sleeping.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from kubelet.runtime import LABEL_CLUSTER, LABEL_NODE, LABEL_POD_UID, ContainerInfo, DockerError
from machinery import errors
from machinery.meta import format_time

Obj = dict[str, Any]


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def stamp(self) -> str:
        return format_time(datetime.fromtimestamp(self.now, timezone.utc))


class FakeRuntime:
    """An in-memory Docker for one node."""

    def __init__(self, clock: FakeClock, images: tuple[str, ...] = ("img:1", "pause:1")) -> None:
        self.clock = clock
        self.network = "testnet"
        self.images = {name: {"Id": f"sha256:{i:064x}", "RepoDigests": [],
                              "Config": {"User": ""}, "Size": 10}
                       for i, name in enumerate(images, 1)}
        self.containers: dict[str, ContainerInfo] = {}
        self.configs: dict[str, tuple[Obj, Obj]] = {}
        self.log: list[tuple[str, str]] = []  # (verb, container name)
        self.exec_results: dict[tuple[str, ...], tuple[int, str]] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.fail_start: set[str] = set()
        self._ids = itertools.count(1)
        self._ips = itertools.count(2)

    def labels(self, **extra: str) -> dict[str, str]:
        return {LABEL_CLUSTER: "test", LABEL_NODE: "node-1", **extra}

    async def pod_containers(self, uid: str) -> list[ContainerInfo]:
        found = [c for c in self.containers.values() if c.labels.get(LABEL_POD_UID) == uid]
        return sorted(found, key=lambda c: (c.restart_count, c.created), reverse=True)

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        return self.containers.get(container_id)

    async def create(self, config: Obj, host: Obj, name: str) -> str:
        if any(c.name == name for c in self.containers.values()):
            raise DockerError(f'Conflict. The container name "/{name}" is already in use')
        number = next(self._ids)
        container_id = f"{number:064x}"
        image = self.images.get(str(config.get("image")), {})
        self.containers[container_id] = ContainerInfo(
            id=container_id, name=name, labels=dict(config.get("labels") or {}),
            state="created", created=f"{number:012d}", image=str(config.get("image")),
            image_id=str(image.get("Id", "")))
        self.configs[container_id] = (config, host)
        self.log.append(("create", name))
        return container_id

    async def start(self, container_id: str) -> None:
        info = self.containers[container_id]
        self.log.append(("start", info.name))
        if info.name in self.fail_start:
            info.error = 'exec: "nope": executable file not found in $PATH'
            info.exit_code = 127
            info.finished_at = self.clock.stamp()
            raise DockerError(info.error)
        info.state = "running"
        info.started_at = self.clock.stamp()
        info.pid = 1000 + int(info.created)
        if info.kind == "sandbox":
            info.ip = f"10.0.0.{next(self._ips)}"

    def exit(self, container_id: str, code: int, *, oom: bool = False) -> None:
        info = self.containers[container_id]
        info.state, info.exit_code, info.oom_killed = "exited", code, oom
        info.finished_at = self.clock.stamp()
        info.pid = 0

    async def stop(self, container_id: str, grace: int) -> None:
        info = self.containers.get(container_id)
        if info is not None and info.running:
            self.log.append(("stop", info.name))
            self.exit(container_id, 137 if grace == 0 else 0)

    async def remove(self, container_id: str) -> None:
        info = self.containers.pop(container_id, None)
        if info is not None:
            self.log.append(("remove", info.name))

    async def exec(self, container_id: str, command: list[str],
                   timeout: float) -> tuple[int, str]:
        return self.exec_results.get(tuple(command), (0, ""))

    async def logs_tail(self, container_id: str, lines: int) -> str:
        return "last words\n"

    async def image(self, name: str) -> Obj | None:
        found = self.images.get(name)
        if found is None:
            found = next((i for i in self.images.values() if i["Id"] == name), None)
        return found

    async def pull(self, name: str) -> Obj:
        raise DockerError(f"pull access denied for {name}, repository does not exist")

    async def list_volumes(self, **labels: str) -> list[str]:
        return [name for name, have in self.volumes.items()
                if all(have.get(k) == v for k, v in labels.items())]

    async def create_tmpfs_volume(self, name: str, size: int | None, labels: dict[str, str]) -> str:
        self.volumes[name] = dict(labels)
        return name

    async def remove_volume(self, name: str) -> None:
        self.volumes.pop(name, None)

    def named(self, container: str) -> list[ContainerInfo]:
        """Instances of one container (``"POD"`` for sandboxes), newest first."""
        found = [c for c in self.containers.values()
                 if (c.kind == "sandbox" if container == "POD" else c.container_name == container)]
        return sorted(found, key=lambda c: c.created, reverse=True)


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str | None]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str | None = None) -> None:
        self.events.append((type_, reason, message, field_path))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _, _ in self.events]


class FakeObjects:
    """ConfigMaps and Secrets by (kind, namespace, name)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Obj] = {}

    def add(self, kind: str, namespace: str, name: str, **body: Any) -> None:
        self.items[(kind, namespace, name)] = {"metadata": {"name": name}, **body}

    async def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.items.get((kind, namespace, name))


def _merge(target: Obj, patch: Obj) -> None:
    """JSON merge patch (RFC 7386): maps merge recursively, null deletes, the rest replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


class FakeClient:
    """Records API calls; keeps objects by (resource, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.deletes: list[tuple[str, str, dict[str, Any]]] = []
        self._rv = itertools.count(1)

    def _key(self, resource: str, name: str, namespace: str | None) -> tuple[str, str | None, str]:
        return resource, namespace, name

    async def create(self, resource: str, obj: Obj, namespace: str | None = None, **_: Any) -> Obj:
        meta = obj.setdefault("metadata", {})
        key = self._key(resource, meta["name"], namespace or meta.get("namespace"))
        self.calls.append(("create", resource, meta["name"]))
        if key in self.objects:
            raise errors.AlreadyExists(f'{resource} "{meta["name"]}" already exists')
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[key] = obj
        return obj

    async def get(self, resource: str, name: str, namespace: str | None = None, **_: Any) -> Obj:
        self.calls.append(("get", resource, name))
        found = self.objects.get(self._key(resource, name, namespace))
        if found is None:
            raise errors.NotFound(f'{resource} "{name}" not found')
        return found

    async def patch(self, resource: str, name: str, patch: Obj, namespace: str | None = None,
                    **kwargs: Any) -> Obj:
        self.calls.append(("patch" + (f"/{kwargs['subresource']}" if kwargs.get("subresource")
                                      else ""), resource, name))
        found = await self.get(resource, name, namespace)
        _merge(found, patch)
        return found

    async def delete(self, resource: str, name: str, namespace: str | None = None,
                     **options: Any) -> Obj:
        self.calls.append(("delete", resource, name))
        self.deletes.append((resource, name, options))
        if self.objects.pop(self._key(resource, name, namespace), None) is None:
            raise errors.NotFound(f'{resource} "{name}" not found')
        return {"kind": "Status", "status": "Success"}

    async def update(self, resource: str, obj: Obj, **_: Any) -> Obj:
        meta = obj["metadata"]
        self.calls.append(("update", resource, meta["name"]))
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[self._key(resource, meta["name"], meta.get("namespace"))] = obj
        return obj
