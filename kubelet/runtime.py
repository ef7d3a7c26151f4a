"""The kubelet's only door to Docker: blocking SDK calls on a bounded thread pool.

Docker is the kubelet's source of truth about what runs: every object the
kubelet creates carries labels naming cluster, node, namespace, pod, pod uid
and container, so a restarted kubelet (or the streaming server, or anyone
debugging with ``docker ps --filter label=...``) can rebuild the picture from
Docker alone.  ``ContainerInfo`` is that picture for one container, parsed
from ``docker inspect``.

The Docker SDK blocks; its calls run on an 8-thread pool so a slow engine
never stalls the event loop.  Exec probes and hooks may hang until their
timeout, so they get a pool of their own and cannot starve pod syncs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker
import docker.errors
from docker.types import IPAMConfig, IPAMPool
from prometheus_client import Counter, Histogram

from machinery.meta import parse_time

__all__ = [
    "LABEL_CLUSTER", "LABEL_NODE", "LABEL_NAMESPACE", "LABEL_POD", "LABEL_POD_UID",
    "LABEL_CONTAINER", "LABEL_KIND", "LABEL_RESTART_COUNT", "LABEL_HASH", "LABEL_GRACE", "LABEL_POD_IP",
    "KIND_SANDBOX", "KIND_INIT", "KIND_APP", "ContainerInfo", "DockerRuntime", "DockerError",
]

LABEL_CLUSTER = "io.k8py.cluster"
LABEL_NODE = "io.k8py.node"
LABEL_NAMESPACE = "io.k8py.namespace"
LABEL_POD = "io.k8py.pod"
LABEL_POD_UID = "io.k8py.pod-uid"
LABEL_CONTAINER = "io.k8py.container"
LABEL_KIND = "io.k8py.kind"
LABEL_RESTART_COUNT = "io.k8py.restart-count"
LABEL_HASH = "io.k8py.container-hash"
LABEL_GRACE = "io.k8py.termination-grace-period"
# On sandboxes the kubelet wires itself (kubelet.podnetwork): the pod's address.
LABEL_POD_IP = "io.k8py.pod-ip"

KIND_SANDBOX = "sandbox"
KIND_INIT = "init"
KIND_APP = "app"

API_VERSION = "1.41"
T = TypeVar("T")
log = logging.getLogger(__name__)

# As the kubelet's own runtime metrics: what each pod costs the engine, and how long it waits.
OPERATIONS = Counter("kubelet_runtime_operations_total", "Docker calls made, by operation",
                     ["operation_type"])
OPERATION_ERRORS = Counter("kubelet_runtime_operations_errors_total",
                           "Docker calls that failed, by operation", ["operation_type"])
OPERATION_SECONDS = Histogram("kubelet_runtime_operations_duration_seconds",
                              "Duration of Docker calls, queueing for a thread included, "
                              "by operation", ["operation_type"],
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class DockerError(Exception):
    """A Docker operation failed; the message is what users see in events and statuses."""


def _time(value: str | None) -> str | None:
    """Docker's nanosecond time as Kubernetes' whole-second time (None when unset)."""
    if not value or value.startswith("0001-01-01"):
        return None
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerInfo:
    """What ``docker inspect`` says about one container the kubelet made."""

    id: str
    name: str
    labels: dict[str, str]
    state: str                      # created | running | exited | dead | ... (Docker's words)
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    created: str = ""
    image: str = ""                 # as the kubelet asked for it (Config.Image)
    image_id: str = ""              # sha256:...
    pid: int = 0
    ip: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return self.labels.get(LABEL_KIND, "")

    @property
    def container_name(self) -> str:
        return self.labels.get(LABEL_CONTAINER, "")

    @property
    def pod_uid(self) -> str:
        return self.labels.get(LABEL_POD_UID, "")

    @property
    def restart_count(self) -> int:
        try:
            return int(self.labels.get(LABEL_RESTART_COUNT, "0"))
        except ValueError:
            return 0

    @property
    def created_at(self) -> float:
        try:
            return parse_time(self.created).timestamp()
        except ValueError:
            return 0.0

    @property
    def spec_hash(self) -> str:
        return self.labels.get(LABEL_HASH, "")

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def exited(self) -> bool:
        """Ran and stopped, or never could start (Docker leaves those ``created`` with an error)."""
        return self.state in ("exited", "dead") or (self.state == "created" and bool(self.error))

    @property
    def start_failed(self) -> bool:
        return self.state == "created" and bool(self.error)

    @classmethod
    def from_inspect(cls, data: dict[str, Any], network: str | None = None) -> ContainerInfo:
        state = data.get("State") or {}
        config = data.get("Config") or {}
        networks = (data.get("NetworkSettings") or {}).get("Networks") or {}
        ip = ""
        wired = str((config.get("Labels") or {}).get(LABEL_POD_IP) or "")
        if wired:
            ip = wired if state.get("Running") else ""
        elif network and network in networks:
            ip = networks[network].get("IPAddress") or ""
        elif networks:
            ip = next(iter(networks.values())).get("IPAddress") or ""
        return cls(
            id=data["Id"], name=str(data.get("Name", "")).lstrip("/"),
            labels=dict(config.get("Labels") or {}), state=str(state.get("Status", "")),
            exit_code=int(state.get("ExitCode") or 0), oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""), started_at=_time(state.get("StartedAt")),
            finished_at=_time(state.get("FinishedAt")), created=str(data.get("Created", "")),
            image=str(config.get("Image", "")), image_id=str(data.get("Image", "")),
            pid=int(state.get("Pid") or 0), ip=ip, raw=data)


class DockerRuntime:
    """Async facade over one Docker engine, scoped to one cluster and node by labels."""

    def __init__(self, base_url: str, cluster: str, node: str, network: str, *,
                 workers: int = 8, timeout: int = 120,
                 client: docker.DockerClient | None = None) -> None:
        self.cluster = cluster
        self.node = node
        self.network = network
        # Kept public: the streaming server (logs, exec, attach) drives it directly.
        # A fixed API version (Docker 20.10's; newer engines accept it) keeps the SDK from
        # probing the engine here, so a kubelet started before Docker waits for it instead.
        self.client = client or docker.DockerClient(base_url=base_url, version=API_VERSION,
                                                    timeout=timeout,
                                                    max_pool_size=2 * workers + 4)
        self.api = self.client.api
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="docker")
        self._exec_pool = ThreadPoolExecutor(workers, thread_name_prefix="docker-exec")
        # Inspections by container id, and a generation per id that every change bumps:
        # see ``pod_containers``.
        self._inspected: dict[str, ContainerInfo] = {}
        self._generation: dict[str, int] = {}

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking SDK call on the pool; Docker errors become ``DockerError``."""
        loop = asyncio.get_running_loop()
        operation = getattr(fn, "__name__", "call")
        OPERATIONS.labels(operation).inc()
        started = time.monotonic()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except docker.errors.NotFound:
            raise
        except docker.errors.APIError as exc:
            OPERATION_ERRORS.labels(operation).inc()
            raise DockerError(str(exc.explanation or exc)) from exc
        finally:
            OPERATION_SECONDS.labels(operation).observe(time.monotonic() - started)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._exec_pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # -- engine -------------------------------------------------------------------------

    async def version(self) -> dict[str, Any]:
        return await self.call(self.api.version)

    async def info(self) -> dict[str, Any]:
        return await self.call(self.api.info)

    async def ping(self) -> bool:
        try:
            return bool(await self.call(self.api.ping))
        except Exception:
            return False

    async def ensure_network(self, subnet: str, ip_range: str = "") -> dict[str, Any]:
        """The cluster bridge network, created with ``subnet`` if it does not exist yet.

        ``ip_range`` confines Docker's own address assignment to part of the subnet,
        leaving the rest to the nodes' pod CIDRs (``kubelet.podnetwork``)."""
        try:
            return await self.call(self.api.inspect_network, self.network)
        except docker.errors.NotFound:
            pass
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, iprange=ip_range or None)])
        try:
            await self.call(self.api.create_network, self.network, driver="bridge", ipam=ipam,
                            check_duplicate=True, labels={LABEL_CLUSTER: self.cluster})
        except DockerError as exc:
            if "already exists" not in str(exc):  # another kubelet won the race
                raise
        return await self.call(self.api.inspect_network, self.network)

    # -- containers ----------------------------------------------------------------------

    def labels(self, **extra: str) -> dict[str, str]:
        return {LABEL_CLUSTER: self.cluster, LABEL_NODE: self.node, **extra}

    def _filters(self, **labels: str) -> dict[str, list[str]]:
        return {"label": [f"{k}={v}" for k, v in self.labels(**labels).items()]}

    async def list_ids(self, **labels: str) -> list[str]:
        """Ids of this node's containers (any state) with the given extra labels."""
        rows = await self.call(self.api.containers, all=True, filters=self._filters(**labels))
        return [row["Id"] for row in rows]

    async def list_summaries(self) -> list[dict[str, Any]]:
        """``docker ps -a`` rows of this node's containers: cheap, labels and state only.

        Containers no longer listed are forgotten by the inspection cache."""
        rows: list[dict[str, Any]] = await self.call(self.api.containers, all=True,
                                                     filters=self._filters())
        listed = {str(row["Id"]) for row in rows}
        for cache in (self._inspected, self._generation):
            for container_id in [i for i in cache if i not in listed]:
                del cache[container_id]
        return rows

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        generation = self._generation.get(container_id, 0)
        try:
            data = await self.call(self.api.inspect_container, container_id)
        except docker.errors.NotFound:
            self.changed(container_id)
            return None
        info = ContainerInfo.from_inspect(data, self.network)
        if self._generation.get(container_id, 0) == generation:  # nothing happened meanwhile
            self._inspected[container_id] = info
        return info

    def changed(self, container_id: str) -> None:
        """A container changed (a Docker event, or our own start/stop/remove): inspect it
        afresh.  The generation makes an inspection already under way not count either;
        ``list_summaries`` forgets what is gone."""
        self._inspected.pop(container_id, None)
        self._generation[container_id] = self._generation.get(container_id, 0) + 1

    def forget_inspections(self) -> None:
        """Inspect every container afresh (the event stream that invalidates them broke)."""
        for container_id in list(self._inspected):
            self.changed(container_id)

    async def pod_containers(self, pod_uid: str) -> list[ContainerInfo]:
        """Every container of one pod, sandboxes included, newest first.

        One listing, and an inspection only of the containers whose state the
        listing shows changed since the last one (or that an event or our own
        action marked changed): this is called on every pass over every pod,
        and what it reads of a container -- times, exit code, pid, IP -- only
        changes with its state.
        """
        rows = await self.call(self.api.containers, all=True,
                               filters=self._filters(**{LABEL_POD_UID: pod_uid}))
        infos: list[ContainerInfo] = []
        stale: list[str] = []
        for row in rows:
            known = self._inspected.get(str(row["Id"]))
            if known is not None and known.state == str(row.get("State") or ""):
                infos.append(known)
            else:
                stale.append(str(row["Id"]))
        infos += [info for info in await asyncio.gather(*(self.inspect(i) for i in stale))
                  if info is not None]
        # The restart count orders instances of one container even within one second.
        infos.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
        return infos

    async def find_container(self, namespace: str, pod: str, container: str) -> str | None:
        """The Docker id of a pod's container by name: the running one, else the newest.

        This is how the kubelet server maps ``namespace/pod/container`` to Docker
        for logs, exec, attach and port-forward (``container="POD"``, or ``""``,
        names the sandbox, which owns the network namespace).
        """
        labels = {LABEL_NAMESPACE: namespace, LABEL_POD: pod}
        if container in ("", "POD"):
            labels[LABEL_KIND] = KIND_SANDBOX
        else:
            labels[LABEL_CONTAINER] = container
        rows = await self.call(self.api.containers, all=True, filters=self._filters(**labels))
        if not rows:
            return None
        rows.sort(key=lambda r: (r.get("State") == "running", r.get("Created", 0)), reverse=True)
        return str(rows[0]["Id"])

    async def create(self, config: dict[str, Any], host_config: dict[str, Any],
                     name: str, networking: dict[str, Any] | None = None) -> str:
        """Create a container from ``create_container`` keyword arguments; returns its id."""
        def create() -> str:
            hc = self.api.create_host_config(**host_config)
            result = self.api.create_container(host_config=hc, name=name,
                                               networking_config=networking, **config)
            return str(result["Id"])
        try:
            return await self.call(create)
        except docker.errors.NotFound as exc:
            raise DockerError(str(exc.explanation or exc)) from exc

    async def start(self, container_id: str) -> None:
        self.changed(container_id)
        try:
            await self.call(self.api.start, container_id)
        finally:
            self.changed(container_id)

    async def stop(self, container_id: str, grace: int) -> None:
        """SIGTERM (or the image's STOPSIGNAL), then SIGKILL after ``grace`` seconds."""
        try:
            await self.call(self.api.stop, container_id, timeout=max(0, grace))
        except docker.errors.NotFound:
            pass
        finally:
            self.changed(container_id)

    async def remove(self, container_id: str) -> None:
        try:
            await self.call(self.api.remove_container, container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except DockerError as exc:
            if "already in progress" not in str(exc):
                raise
        finally:
            self.changed(container_id)

    async def exec(self, container_id: str, command: list[str],
                   timeout: float) -> tuple[int, str]:
        """Run a command in a container (probes, hooks); (exit code, combined output).

        A command outliving ``timeout`` counts as failed with exit code -1; its
        thread is left to finish on the exec pool.
        """
        def run() -> tuple[int, str]:
            exec_id = self.api.exec_create(container_id, command, stdout=True, stderr=True)["Id"]
            output = self.api.exec_start(exec_id, stream=False, demux=False) or b""
            code = self.api.exec_inspect(exec_id).get("ExitCode")
            return (int(code) if code is not None else -1,
                    output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output))
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._exec_pool, run)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return -1, f"command timed out after {timeout:g}s"
        except docker.errors.APIError as exc:
            return -1, str(exc.explanation or exc)

    async def logs_tail(self, container_id: str, lines: int) -> str:
        try:
            data = await self.call(self.api.logs, container_id, stdout=True, stderr=True,
                                   tail=lines)
        except (docker.errors.NotFound, DockerError):
            return ""
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    # -- images ---------------------------------------------------------------------------

    async def image(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.call(self.api.inspect_image, name)
        except docker.errors.NotFound:
            return None
        except DockerError:
            return None

    async def pull(self, name: str) -> dict[str, Any]:
        await self.call(self.api.pull, name)  # the SDK splits the tag (default "latest")
        found = await self.image(name)
        if found is None:
            raise DockerError(f"image {name} missing after pull")
        return found

    # -- volumes --------------------------------------------------------------------------

    async def create_tmpfs_volume(self, name: str, size_bytes: int | None,
                                  labels: dict[str, str]) -> str:
        options = {"type": "tmpfs", "device": "tmpfs"}
        if size_bytes:
            options["o"] = f"size={size_bytes}"
        result = await self.call(self.api.create_volume, name, driver="local",
                                 driver_opts=options, labels=self.labels(**labels))
        return str(result["Name"])

    async def list_volumes(self, **labels: str) -> list[str]:
        result = await self.call(self.api.volumes, filters=self._filters(**labels))
        return [v["Name"] for v in (result.get("Volumes") or [])]

    async def remove_volume(self, name: str) -> None:
        try:
            await self.call(self.api.remove_volume, name, force=True)
        except docker.errors.NotFound:
            pass

    # -- events ---------------------------------------------------------------------------

    def events(self) -> Any:
        """A blocking, closable stream of this node's container events (run it on a thread)."""
        return self.api.events(decode=True, filters={"type": "container", **self._filters()})
