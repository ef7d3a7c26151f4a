"""One pod pass against a fake Docker: order of steps, restarts, back-off, failures, teardown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kubelet.backoff import Backoff
from kubelet.config import KubeletConfig
from kubelet.context import SyncContext
from kubelet.images import ImageManager
from kubelet.lifecycle import kill_pod, remove_pod
from kubelet.probes import ProbeManager
from kubelet.runtime import ContainerInfo
from kubelet.sandbox import SandboxError
from kubelet.status import compute_status
from kubelet.sync import PodState, PodSyncer, go_duration
from kubelet.volumes import VolumeManager
from tests.kubelet.fakes import FakeClock, FakeObjects, FakeRecorder, FakeRuntime

Obj = dict[str, Any]


class Harness:
    def __init__(self, root: Path) -> None:
        self.clock = FakeClock()
        self.runtime = FakeRuntime(self.clock)
        self.recorder = FakeRecorder()
        self.objects = FakeObjects()
        self.rejects: list[tuple[int, str]] = []
        self.reject_error: Exception | None = None
        self.woken: list[str] = []
        config = KubeletConfig(node_name="node-1", root_dir=str(root), node_ip="192.0.2.1",
                               pod_infra_image="pause:1", service_rules_timeout=0)
        volumes = VolumeManager(self.runtime, self.objects, str(root), "192.0.2.1",  # type: ignore[arg-type]
                                lambda: {"cpu": "2", "memory": "1Gi"})
        self.probes = ProbeManager(self.runtime, self.recorder, self.woken.append)  # type: ignore[arg-type]
        self.ctx = SyncContext(
            config=config, runtime=self.runtime, recorder=self.recorder,  # type: ignore[arg-type]
            images=ImageManager(self.runtime, self.recorder, Backoff(10, 300, self.clock)),  # type: ignore[arg-type]
            volumes=volumes, probes=self.probes, objects=self.objects,
            backoff=Backoff(10, 300, self.clock), allocatable=lambda: {"cpu": "2"},
            install_reject=self.install_reject)
        self.syncer = PodSyncer(self.ctx)

    async def install_reject(self, pid: int, cidr: str) -> None:
        if self.reject_error is not None:
            raise self.reject_error
        self.rejects.append((pid, cidr))
        # The rule must be in place before any of the pod's containers runs.
        [uid] = {c.pod_uid for c in self.runtime.containers.values() if c.pid == pid}
        assert all(c.kind == "sandbox" or not c.running for c in self.runtime.containers.values()
                   if c.pod_uid == uid)

    async def status(self, pod: Obj, state: PodState) -> Obj:
        view = await self.syncer.view(pod, state)
        ip = view.sandbox.ip if view.sandbox and view.sandbox.running else ""
        return compute_status(view, host_ip="192.0.2.1", pod_ip=ip, now=self.clock.stamp())


def make_pod(containers: list[Obj], **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
            "spec": {"nodeName": "node-1", "containers": containers, **spec},
            "status": {"phase": "Pending"}}


def app(name: str = "app", image: str = "img:1", **extra: Any) -> Obj:
    return {"name": name, "image": image, **extra}


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


async def test_sandbox_and_reject_rule_come_before_init_then_apps(h: Harness) -> None:
    pod = make_pod([app("a"), app("b")], initContainers=[app("i1"), app("i2")])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    [sandbox] = h.runtime.named("POD")
    assert h.rejects == [(sandbox.pid, "10.96.0.0/12")]
    assert [n for verb, n in h.runtime.log if verb == "start"] == [
        sandbox.name, h.runtime.named("i1")[0].name]
    h.runtime.exit(h.runtime.named("i1")[0].id, 0)
    await h.syncer.sync(pod, state)
    assert h.runtime.named("i2") and not h.runtime.named("a")
    h.runtime.exit(h.runtime.named("i2")[0].id, 0)
    await h.syncer.sync(pod, state)
    assert h.runtime.named("a")[0].running and h.runtime.named("b")[0].running
    config, host = h.runtime.configs[h.runtime.named("a")[0].id]
    assert host["network_mode"] == f"container:{sandbox.id}"
    assert config["labels"]["io.k8py.kind"] == "app"
    status = await h.status(pod, state)
    assert status["phase"] == "Running" and status["podIP"] == sandbox.ip
    assert [s["state"]["terminated"]["reason"] for s in status["initContainerStatuses"]] == \
        ["Completed", "Completed"]


async def test_a_second_pass_over_a_healthy_pod_changes_nothing(h: Harness) -> None:
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    before = dict(h.runtime.containers)
    log_length = len(h.runtime.log)
    await h.syncer.sync(pod, state)
    assert h.runtime.containers == before and len(h.runtime.log) == log_length
    assert state.retry is None


async def test_crash_loop_backs_off_ten_seconds_doubling(h: Harness) -> None:
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    h.runtime.exit(h.runtime.named("app")[0].id, 1)
    await h.syncer.sync(pod, state)  # the first restart is immediate
    assert [c.restart_count for c in h.runtime.named("app")] == [1, 0]
    h.runtime.exit(h.runtime.named("app")[0].id, 1)
    await h.syncer.sync(pod, state)
    assert len(h.runtime.named("app")) == 2
    assert state.waiting["app"][0] == "CrashLoopBackOff"
    assert state.waiting["app"][1] == "back-off 10s restarting failed container=app pod=p_ns(uid-1)"
    assert state.retry == pytest.approx(10)
    status = await h.status(pod, state)
    cs = status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 1
    assert status["phase"] == "Running"
    assert "BackOff" in h.recorder.reasons()
    h.clock.advance(10)
    await h.syncer.sync(pod, state)
    assert h.runtime.named("app")[0].restart_count == 2 and h.runtime.named("app")[0].running
    h.runtime.exit(h.runtime.named("app")[0].id, 1)
    await h.syncer.sync(pod, state)
    assert state.waiting["app"][1].startswith("back-off 20s")


async def test_restart_policies(h: Harness) -> None:
    for policy, code, restarts in (("Never", 1, False), ("OnFailure", 0, False),
                                   ("OnFailure", 2, True), ("Always", 0, True)):
        harness = Harness(h.ctx.volumes.root / policy / str(code))
        pod = make_pod([app()], restartPolicy=policy)
        state = PodState("uid-1")
        await harness.syncer.sync(pod, state)
        harness.runtime.exit(harness.runtime.named("app")[0].id, code)
        await harness.syncer.sync(pod, state)
        assert (len(harness.runtime.named("app")) == 2) is restarts, (policy, code)
        phase = (await harness.status(pod, state))["phase"]
        expected = "Running" if restarts else ("Succeeded" if code == 0 else "Failed")
        assert phase == expected, (policy, code)


async def test_failed_init_container_fails_a_never_pod(h: Harness) -> None:
    pod = make_pod([app()], initContainers=[app("init")], restartPolicy="Never")
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    h.runtime.exit(h.runtime.named("init")[0].id, 3)
    await h.syncer.sync(pod, state)
    assert not h.runtime.named("app")
    status = await h.status(pod, state)
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"


async def test_unpullable_image_goes_from_err_image_pull_to_back_off(h: Harness) -> None:
    pod = make_pod([app(image="absent:1")])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    assert state.waiting["app"][0] == "ErrImagePull"
    assert state.waiting["app"][1].startswith('Failed to pull image "absent:1"')
    assert state.retry == pytest.approx(5)  # halfway through the 10 s back-off
    await h.syncer.sync(pod, state)
    assert state.waiting["app"] == ("ImagePullBackOff", 'Back-off pulling image "absent:1"')
    assert not h.runtime.named("app")
    reasons = h.recorder.reasons()
    assert reasons.count("Pulling") == 1 and "BackOff" in reasons and "Failed" in reasons


async def test_never_pull_policy_without_the_image(h: Harness) -> None:
    pod = make_pod([app(image="absent:1", imagePullPolicy="Never")])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    assert state.waiting["app"][0] == "ErrImageNeverPull"
    assert "Pulling" not in h.recorder.reasons()


async def test_reject_rule_failure_keeps_containers_from_starting(h: Harness) -> None:
    h.reject_error = SandboxError("cannot install K8PY-SERVICE-REJECT: nsenter missing")
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    assert h.runtime.containers == {}
    [event] = [e for e in h.recorder.events if e[1] == "FailedCreatePodSandBox"]
    assert "nsenter missing" in event[2]
    assert state.retry is not None


async def test_a_new_pod_gets_its_status_without_relisting(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    listings: list[str] = []
    listed = h.runtime.pod_containers

    async def pod_containers(uid: str) -> list[ContainerInfo]:
        listings.append(uid)
        return await listed(uid)

    monkeypatch.setattr(h.runtime, "pod_containers", pod_containers)
    pod = make_pod([app("a"), app("b")])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    status = await h.status(pod, state)
    assert listings == ["uid-1"]  # the pass's own look; it recorded what it made
    assert status["phase"] == "Running"
    assert [s["state"].get("running") is not None for s in status["containerStatuses"]] == \
        [True, True]
    [sandbox] = h.runtime.named("POD")
    # The pass started the sandbox and both containers itself: their start events are no news.
    assert {(c.id, "start") for c in (sandbox, *h.runtime.named("a"), *h.runtime.named("b"))} \
        == state.expected
    await h.status(pod, state)
    assert listings == ["uid-1", "uid-1"]  # used once: a later look asks Docker again


async def test_a_pass_that_restarts_a_container_relists_for_the_status(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    h.runtime.fail_start.add(h.runtime.named("app")[0].name.replace("_0", "_1"))
    h.runtime.exit(h.runtime.named("app")[0].id, 1)
    await h.syncer.sync(pod, state)
    assert state.observed is None  # a failed start: only Docker knows what is left
    status = await h.status(pod, state)
    assert status["containerStatuses"][0]["restartCount"] == 1


@pytest.mark.parametrize("proxy", [False, True])
async def test_waits_for_service_rules_only_where_a_kube_proxy_runs(
        h: Harness, monkeypatch: pytest.MonkeyPatch, proxy: bool) -> None:
    waits: list[tuple[int, float]] = []

    async def wait(pid: int, timeout: float) -> bool:
        waits.append((pid, timeout))
        return True

    monkeypatch.setattr("kubelet.sandbox.wait_for_service_rules", wait)
    h.ctx.config.service_rules_timeout = 2.0
    h.ctx.proxy_present = lambda: proxy
    await h.syncer.sync(make_pod([app()]), PodState("uid-1"))
    [sandbox] = h.runtime.named("POD")
    assert waits == ([(sandbox.pid, 2.0)] if proxy else [])
    assert h.runtime.named("app")[0].running


async def test_missing_config_map_is_a_config_error(h: Harness) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]
    pod = make_pod([app(env=env)])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    assert state.waiting["app"] == ("CreateContainerConfigError", 'configmap "cm" not found')
    h.objects.add("configmaps", "ns", "cm", data={"k": "v"})
    await h.syncer.sync(pod, state)
    config, _ = h.runtime.configs[h.runtime.named("app")[0].id]
    assert "X=v" in config["environment"] and "app" not in state.waiting


async def test_failed_start_shows_start_error_then_restarts(h: Harness) -> None:
    pod = make_pod([app()])
    h.runtime.fail_start.add("k8py_app_p_ns_uid-1_0")
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    status = await h.status(pod, state)
    terminated = status["containerStatuses"][0]["lastState"]["terminated"]
    assert terminated["reason"] == "StartError" and terminated["exitCode"] == 127
    await h.syncer.sync(pod, state)
    assert h.runtime.named("app")[0].running and h.runtime.named("app")[0].restart_count == 1


async def test_liveness_failure_kills_and_restarts(h: Harness) -> None:
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    first = h.runtime.named("app")[0]
    h.probes._kill[first.id] = "Container app failed liveness probe, will be restarted"
    await h.syncer.sync(pod, state)
    assert not first.running and h.runtime.named("app")[0].restart_count == 1
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted",
            "spec.containers{app}") in h.recorder.events


async def test_dead_sandbox_is_replaced_and_its_containers_restarted(h: Harness) -> None:
    pod = make_pod([app()])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    h.runtime.exit(h.runtime.named("POD")[0].id, 0)
    await h.syncer.sync(pod, state)
    sandboxes = h.runtime.named("POD")
    assert len(sandboxes) == 2 and sandboxes[0].running and sandboxes[0].restart_count == 1
    assert h.runtime.named("app")[0].running and h.runtime.named("app")[0].restart_count == 1
    assert len(h.rejects) == 2


async def test_kill_and_remove_take_everything_down(h: Harness, tmp_path: Path) -> None:
    pod = make_pod([app("a"), app("b")], volumes=[{"name": "v", "emptyDir": {}}])
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    assert (tmp_path / "pods" / "uid-1").is_dir()
    await kill_pod(h.ctx, pod, "uid-1", 5)
    assert all(not c.running for c in h.runtime.containers.values())
    stops = [n for verb, n in h.runtime.log if verb == "stop"]
    assert stops[-1].startswith("k8py_POD_")  # the sandbox goes last
    assert sum(1 for e in h.recorder.events if e[1] == "Killing") == 2
    await remove_pod(h.ctx, "uid-1")
    assert h.runtime.containers == {} and not (tmp_path / "pods" / "uid-1").exists()


def test_go_duration() -> None:
    assert [go_duration(s) for s in (10, 80, 300, 3725)] == ["10s", "1m20s", "5m0s", "1h2m5s"]


async def test_always_pulls_even_a_local_image(h: Harness) -> None:
    for name, container in (("explicit", app(imagePullPolicy="Always")),
                            ("untagged", app(image="img"))):
        pod = make_pod([container])
        pod["metadata"]["uid"] = name
        state = PodState(name)
        await h.syncer.sync(pod, state)
        assert state.waiting["app"][0] == "ErrImagePull", name
    assert h.recorder.reasons().count("Pulling") == 2


async def test_sidecars_run_beside_the_app_and_stop_when_it_is_done(h: Harness) -> None:
    sidecar = app("proxy", restartPolicy="Always")
    pod = make_pod([app("main")], initContainers=[sidecar, app("setup")], restartPolicy="Never")
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    # A sidecar without a startup probe counts as started at once: the next init follows.
    assert h.runtime.named("proxy")[0].running and h.runtime.named("setup")[0].running
    assert not h.runtime.named("main")
    h.runtime.exit(h.runtime.named("setup")[0].id, 0)
    await h.syncer.sync(pod, state)
    assert h.runtime.named("main")[0].running
    status = await h.status(pod, state)
    assert status["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Initialized"] == "True" and conditions["ContainersReady"] == "True"
    proxy = status["initContainerStatuses"][0]
    assert "running" in proxy["state"] and proxy["ready"] and proxy["started"]
    # A sidecar always restarts, even in a Never pod.
    h.runtime.exit(h.runtime.named("proxy")[0].id, 1)
    await h.syncer.sync(pod, state)
    assert h.runtime.named("proxy")[0].running and h.runtime.named("proxy")[0].restart_count == 1
    # Once the app is done for good, the sidecar is stopped and the pod completes.
    h.runtime.exit(h.runtime.named("main")[0].id, 0)
    await h.syncer.sync(pod, state)
    assert not h.runtime.named("proxy")[0].running
    await h.syncer.sync(pod, state)
    assert len(h.runtime.named("proxy")) == 2  # not restarted again
    assert (await h.status(pod, state))["phase"] == "Succeeded"


async def test_a_sidecar_with_a_startup_probe_holds_the_next_init_container(h: Harness) -> None:
    sidecar = app("proxy", restartPolicy="Always",
                  startupProbe={"exec": {"command": ["ready"]}, "periodSeconds": 1})
    pod = make_pod([app("main")], initContainers=[sidecar])
    h.runtime.exec_results[("ready",)] = (1, "not yet")
    state = PodState("uid-1")
    await h.syncer.sync(pod, state)
    await h.syncer.sync(pod, state)
    assert not h.runtime.named("main")
    status = await h.status(pod, state)
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["started"] is False
    h.probes._results[(h.runtime.named("proxy")[0].id, "startup")] = True
    await h.syncer.sync(pod, state)
    assert h.runtime.named("main")[0].running
    await h.probes.stop()


def test_instances_sort_by_restart_count_then_creation() -> None:
    a = ContainerInfo("a", "a", {"io.k8py.restart-count": "1"}, "exited",
                      created="2024-01-01T00:00:00.12345Z")
    b = ContainerInfo("b", "b", {"io.k8py.restart-count": "1"}, "running",
                      created="2024-01-01T00:00:00.123456789Z")
    assert a.created > b.created and b.created_at > a.created_at  # Docker trims zeros
    c = ContainerInfo("c", "c", {"io.k8py.restart-count": "2"}, "running",
                      created="2024-01-01T00:00:00.1Z")
    ordered = sorted([a, b, c], key=lambda i: (i.restart_count, i.created_at), reverse=True)
    assert [i.id for i in ordered] == ["c", "b", "a"]


async def test_pods_start_in_turn_within_the_start_slots(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    started = h.runtime.start

    async def start(container_id: str) -> None:
        await asyncio.sleep(0)  # let the other pod run, as Docker's answer would
        await started(container_id)

    monkeypatch.setattr(h.runtime, "start", start)
    h.ctx.start_slots = asyncio.Semaphore(1)
    first, second = make_pod([app()]), make_pod([app()])
    second["metadata"].update(name="q", uid="uid-2")
    await asyncio.gather(h.syncer.sync(first, PodState("uid-1")),
                         h.syncer.sync(second, PodState("uid-2")))
    assert [(verb, name.split("_")[1], name.split("_")[2]) for verb, name in h.runtime.log] == [
        ("create", "POD", "p"), ("start", "POD", "p"), ("create", "app", "p"),
        ("start", "app", "p"), ("create", "POD", "q"), ("start", "POD", "q"),
        ("create", "app", "q"), ("start", "app", "q")]


async def test_an_image_found_present_is_not_inspected_for_every_pod(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    looks: list[str] = []
    image = h.runtime.image

    async def counted(name: str) -> Obj | None:
        looks.append(name)
        return await image(name)

    monkeypatch.setattr(h.runtime, "image", counted)
    for index in range(3):
        pod = make_pod([app(imagePullPolicy="IfNotPresent")])
        pod["metadata"].update(name=f"p{index}", uid=f"uid-{index}")
        await h.syncer.sync(pod, PodState(f"uid-{index}"))
    assert looks.count("img:1") == 1
    h.ctx.images.present_ttl = 0
    pod = make_pod([app(imagePullPolicy="IfNotPresent")])
    pod["metadata"].update(name="p9", uid="uid-9")
    await h.syncer.sync(pod, PodState("uid-9"))
    assert looks.count("img:1") == 2
