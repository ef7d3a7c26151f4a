"""Deployments and ReplicaSets end to end: real etcd, API server and ``python -m controllers``.

No kubelet runs: ``FakeKubelet`` plays one by marking pods Running and
Ready through ``pods/status`` (except pods of images listed as broken), and
``Bounds`` watches every pod event to check the rolling-update limits in
each state the cluster passes through.  kubectl 1.32 drives
``rollout status`` and ``rollout undo``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from machinery import errors
from machinery.client import ApiClient
from machinery.informer import Informer
from machinery.meta import get_condition, is_being_deleted, now_rfc3339, pod_is_ready
from tests.conftest import ROOT, ApiServerProcess, free_port, running, stop_process, wait_http

pytestmark = pytest.mark.integration

T = TypeVar("T")
Obj = dict[str, Any]
BROKEN = "k8py/broken:1"


class ControllerManager:
    """``python -m controllers`` with short leader-election timings, restartable."""

    def __init__(self, kubeconfig: str, identity: str) -> None:
        self.kubeconfig = kubeconfig
        self.identity = identity
        self.health_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"k8py-cm-{identity}-", suffix=".log",
                                               delete=False)

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controllers", "--kubeconfig", self.kubeconfig,
             "--controllers", "deployment,replicaset", "--identity", self.identity,
             "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
             "--leader-elect-retry-period", "500ms",
             "--health-address", "127.0.0.1", "--health-port", str(self.health_port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.health_port}/healthz", 30, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        return stop_process(self.proc, 15)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


@pytest.fixture(scope="module")
def manager(kubeconfig: str) -> Iterator[ControllerManager]:
    yield from running(ControllerManager(kubeconfig, "cm-main"), ControllerManager.start,
                       ControllerManager.stop)


@pytest.fixture
async def client(apiserver: ApiServerProcess, namespace: str) -> AsyncIterator[ApiClient]:
    async with ApiClient(apiserver.url, namespace=namespace) as api:
        yield api


async def eventually(fn: Callable[[], Awaitable[T | None]], timeout: float = 30.0,
                     what: str = "condition") -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await fn()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class FakeKubelet:
    """Marks every new pod Running and Ready, except pods of ``BROKEN`` images."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.api = api
        self.informer = Informer(api, "pods", namespace)
        self.informer.add_handler(self._seen, lambda old, new: self._seen(new))
        self.pending: set[asyncio.Task[None]] = set()

    def _seen(self, pod: Obj) -> None:
        image = pod["spec"]["containers"][0]["image"]
        if pod_is_ready(pod) or is_being_deleted(pod) or image == BROKEN:
            return
        task = asyncio.get_running_loop().create_task(self._ready(pod["metadata"]["name"]))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _ready(self, name: str) -> None:
        for _ in range(5):
            try:
                pod = await self.api.get("pods", name)
                if pod_is_ready(pod):
                    return
                pod["status"] = {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now_rfc3339()}]}
                await self.api.update_status("pods", pod)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return


class Bounds:
    """Checks live and ready pod counts against the rolling-update limits at every event."""

    def __init__(self, informer: Informer, replicas: int, surge: int, unavailable: int) -> None:
        self.informer = informer
        self.replicas, self.surge, self.unavailable = replicas, surge, unavailable
        self.armed = False
        self.states: list[tuple[int, int]] = []
        self.violations: list[tuple[int, int]] = []
        informer.add_handler(self._check, lambda old, new: self._check(new), self._check)

    def _check(self, _: object) -> None:
        if not self.armed:
            return
        live = [p for p in self.informer.list() if not is_being_deleted(p)]
        state = (len(live), sum(1 for p in live if pod_is_ready(p)))
        self.states.append(state)
        if state[0] > self.replicas + self.surge or state[1] < self.replicas - self.unavailable:
            self.violations.append(state)


@pytest.fixture
async def kubelet(client: ApiClient, namespace: str) -> AsyncIterator[FakeKubelet]:
    fake = FakeKubelet(client, namespace)
    await fake.informer.start()
    await fake.informer.wait_for_sync(10)
    try:
        yield fake
    finally:
        await fake.informer.stop()
        for task in list(fake.pending):
            task.cancel()


def deployment(name: str, replicas: int, image: str = "k8py/hello:1.0", **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}},
                     **spec}}


def rollout_done(d: Obj, replicas: int | None = None) -> bool:
    """kubectl's rollout-status test, from ``polymorphichelpers/rollout_status.go``."""
    status = d.get("status") or {}
    want = d["spec"]["replicas"] if replicas is None else replicas
    cond = get_condition(status.get("conditions"), "Progressing")
    return (int(d["metadata"]["generation"]) <= int(status.get("observedGeneration") or 0)
            and int(status.get("updatedReplicas") or 0) >= want
            and int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
            and int(status.get("availableReplicas") or 0) >= int(status.get("updatedReplicas") or 0)
            and (cond is None or cond.get("reason") != "ProgressDeadlineExceeded"))


async def wait_rolled_out(api: ApiClient, name: str, timeout: float = 40.0) -> Obj:
    async def check() -> Obj | None:
        d = await api.get("deployments", name)
        return d if rollout_done(d) else None
    return await eventually(check, timeout, f"deployment {name} to roll out")


async def pods(api: ApiClient, name: str) -> list[Obj]:
    items, _ = await api.list_all("pods", api.namespace, label_selector=f"app={name}")
    return [p for p in items if not is_being_deleted(p)]


def image(obj: Obj) -> str:
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    return str(spec["containers"][0]["image"])


async def set_image(api: ApiClient, name: str, new: str) -> None:
    await api.patch("deployments", name, {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": new}]}}}}, patch_type="strategic")


async def kubectl(kubeconfig: str, namespace: str, *args: str,
                  timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", kubeconfig, "-n", namespace, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode()


async def test_deployment_creates_a_replicaset_and_pods(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet) -> None:
    await client.create("deployments", deployment("web", 3))
    d = await wait_rolled_out(client, "web")

    [rs] = (await client.list("replicasets", client.namespace))["items"]
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    running = await pods(client, "web")
    assert len(running) == 3
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in running} == \
        {rs["metadata"]["name"]}
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert get_condition(d["status"]["conditions"], "Available")["status"] == "True"  # type: ignore[index]
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{manager.health_port}/metrics")).text
    assert 'k8py_controller_reconcile_total{controller="deployment",result="success"}' in metrics
    assert "k8py_controller_manager_leader 1.0" in metrics


async def test_scaling_converges(manager: ControllerManager, client: ApiClient,
                                 kubelet: FakeKubelet) -> None:
    await client.create("deployments", deployment("web", 3))
    await wait_rolled_out(client, "web")
    for replicas in (6, 1):
        await client.patch("deployments", "web", {"spec": {"replicas": replicas}},
                           subresource="scale")
        await wait_rolled_out(client, "web")

        async def settled(n: int = replicas) -> bool:
            return len(await pods(client, "web")) == n
        await eventually(settled, 20, f"{replicas} pods")


async def watched_rollout(client: ApiClient, kubelet: FakeKubelet, *, replicas: int, surge: int,
                          unavailable: int) -> Bounds:
    """Roll out Deployment ``web`` with these bounds, then start its update to hello:2.0.

    The returned ``Bounds`` records every pod state from the update on, for the test to check.
    """
    await client.create("deployments", deployment(
        "web", replicas, strategy={"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": surge,
                                                     "maxUnavailable": unavailable}}))
    await wait_rolled_out(client, "web")
    bounds = Bounds(kubelet.informer, replicas=replicas, surge=surge, unavailable=unavailable)
    bounds.armed = True

    await set_image(client, "web", "k8py/hello:2.0")
    return bounds


async def test_rollout_keeps_surge_and_unavailability_bounds(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet,
        kubeconfig: str, namespace: str) -> None:
    bounds = await watched_rollout(client, kubelet, replicas=4, surge=1, unavailable=1)
    code, out = await kubectl(kubeconfig, namespace, "rollout", "status", "deploy/web",
                              "--timeout=60s")

    assert code == 0, out
    assert 'deployment "web" successfully rolled out' in out
    assert rollout_done(await client.get("deployments", "web"))
    assert bounds.violations == [], bounds.states
    assert len(bounds.states) >= 8  # every pod of both versions passed through the watcher
    final = await pods(client, "web")
    assert len(final) == 4 and {image(p) for p in final} == {"k8py/hello:2.0"}


async def test_rollout_undo_restores_the_previous_template(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet,
        kubeconfig: str, namespace: str) -> None:
    await client.create("deployments", deployment("web", 2))
    await wait_rolled_out(client, "web")
    await set_image(client, "web", "k8py/hello:2.0")
    await wait_rolled_out(client, "web")

    code, out = await kubectl(kubeconfig, namespace, "rollout", "undo", "deploy/web")
    assert code == 0, out
    d = await wait_rolled_out(client, "web")

    assert image(d) == "k8py/hello:1.0"
    items = (await client.list("replicasets", client.namespace))["items"]
    rss = {image(rs): rs for rs in items}
    assert len(items) == len(rss) == 2
    ann = rss["k8py/hello:1.0"]["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/revision"] == "3"
    assert ann["deployment.kubernetes.io/revision-history"] == "1"
    assert {image(p) for p in await pods(client, "web")} == {"k8py/hello:1.0"}
    code, out = await kubectl(kubeconfig, namespace, "rollout", "history", "deploy/web")
    assert code == 0 and "2 " in out and "3 " in out, out


async def test_killed_manager_resumes_the_rollout_without_duplicates(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet) -> None:
    bounds = await watched_rollout(client, kubelet, replicas=6, surge=2, unavailable=0)

    async def mid_rollout() -> bool:
        return any(image(p) == "k8py/hello:2.0" for p in await pods(client, "web"))
    await eventually(mid_rollout, 20, "the rollout to start")
    manager.kill()
    manager.start()
    d = await wait_rolled_out(client, "web", 60)

    assert image(d) == "k8py/hello:2.0"
    final = await pods(client, "web")
    assert len(final) == 6 and {image(p) for p in final} == {"k8py/hello:2.0"}
    assert len((await client.list("replicasets", client.namespace))["items"]) == 2
    assert bounds.violations == [], bounds.states


async def test_progress_deadline_exceeded_then_undo_recovers(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet,
        kubeconfig: str, namespace: str) -> None:
    await client.create("deployments", deployment("web", 2, progressDeadlineSeconds=3))
    await wait_rolled_out(client, "web")

    await set_image(client, "web", BROKEN)

    async def timed_out() -> Obj | None:
        d = await client.get("deployments", "web")
        cond = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
        return cond if cond and cond.get("reason") == "ProgressDeadlineExceeded" else None
    cond = await eventually(timed_out, 30, "ProgressDeadlineExceeded")
    assert cond["status"] == "False"
    code, out = await kubectl(kubeconfig, namespace, "rollout", "status", "deploy/web",
                              "--timeout=20s")
    assert code != 0 and "exceeded its progress deadline" in out, out

    code, out = await kubectl(kubeconfig, namespace, "rollout", "undo", "deploy/web")
    assert code == 0, out
    d = await wait_rolled_out(client, "web")
    assert image(d) == "k8py/hello:1.0"
    cond = get_condition(d["status"]["conditions"], "Progressing")
    assert cond is not None and cond["reason"] == "NewReplicaSetAvailable"


async def test_a_second_manager_stands_by_and_takes_over(
        manager: ControllerManager, client: ApiClient, kubelet: FakeKubelet,
        kubeconfig: str) -> None:
    standby = ControllerManager(kubeconfig, "cm-standby")
    standby.start()
    try:
        lease = await client.get("leases", "kube-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] == "cm-main"

        assert manager.stop() == 0  # a clean stop releases the lease at once

        async def taken_over() -> bool:
            lease = await client.get("leases", "kube-controller-manager", "kube-system")
            return bool(lease["spec"]["holderIdentity"] == "cm-standby")
        await eventually(taken_over, 15, "the standby to lead")
        await client.create("deployments", deployment("web", 2))
        await wait_rolled_out(client, "web")
    finally:
        assert standby.stop() == 0, standby.logs()[-3000:]
        manager.start()


async def k8py(kubeconfig: str, namespace: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "--kubeconfig", kubeconfig, "-n", namespace, *args,
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode()


async def test_k8py_workload_verbs(manager: ControllerManager, client: ApiClient,
                                   kubelet: FakeKubelet, kubeconfig: str,
                                   namespace: str) -> None:
    async def ok(*args: str) -> str:
        code, out = await k8py(kubeconfig, namespace, *args)
        assert code == 0, (args, out)
        return out

    assert await ok("create", "deployment", "web", "--image", "k8py/hello:1.0",
                    "--replicas", "2") == "deployment.apps/web created\n"
    assert "successfully rolled out" in await ok("rollout", "status", "deploy/web",
                                                 "--timeout", "40s")
    assert await ok("set", "image", "deploy/web", "hello=k8py/hello:2.0") == \
        "deployment.apps/web image updated\n"
    assert (await ok("rollout", "status", "deploy/web")).endswith(
        'deployment "web" successfully rolled out\n')
    history = await ok("rollout", "history", "deploy/web")
    assert history.split("\n")[1:4] == ["REVISION  CHANGE-CAUSE", "1         <none>",
                                         "2         <none>"]
    assert await ok("rollout", "undo", "deploy/web") == "deployment.apps/web rolled back\n"
    d = await wait_rolled_out(client, "web")
    assert image(d) == "k8py/hello:1.0"

    assert await ok("rollout", "pause", "deploy/web") == "deployment.apps/web paused\n"
    code, out = await k8py(kubeconfig, namespace, "rollout", "restart", "deploy/web")
    assert code == 1 and out.startswith("error: can't restart paused deployment"), out
    assert await ok("rollout", "resume", "deploy/web") == "deployment.apps/web resumed\n"
    assert await ok("rollout", "restart", "deploy/web") == "deployment.apps/web restarted\n"
    await ok("rollout", "status", "deploy/web")
    rss = (await client.list("replicasets", client.namespace))["items"]
    assert len(rss) == 3  # v1, v2, and v1 again with a restartedAt annotation

    assert await ok("scale", "deploy/web", "--replicas", "4") == "deployment.apps/web scaled\n"
    await ok("rollout", "status", "deploy/web")
    assert len(await pods(client, "web")) == 4
    code, out = await k8py(kubeconfig, namespace, "rollout", "undo", "deploy/web",
                           "--to-revision", "42")
    assert (code, out) == (1, "error: unable to find specified revision 42 in history\n")
