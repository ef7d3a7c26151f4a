"""The local compose cluster end to end: README walkthrough, node loss, restart, clean down.

``k8py cluster up --nodes 2`` brings up the real compose cluster; README.md's
walkthrough runs against it exactly as written (tests/e2e/walkthrough.py);
then a node container is stopped (its pods are evicted and replaced on the
other node) and started again (Ready again, evicted pods cleaned up),
``docker compose restart`` keeps every object and pod container, and
``k8py cluster down`` leaves Docker as it was before ``up``.

The compose cluster has fixed host addresses (6443, 12379, 127.0.1.n), so
runs take a lock, and a developer's own cluster (compose project ``k8py``)
is stopped with ``down --keep-data`` first and brought back afterwards.
This run uses the compose project ``k8py-walkthrough`` (its own etcd volume)
and a short node monitor grace period.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.conftest import wait_for
from tests.e2e.walkthrough import Runner, State, advance, check_for, read_walkthrough

README = ROOT / "README.md"
PROJECT = "k8py-walkthrough"
API = "http://127.0.0.1:6443"
LOCK = Path(tempfile.gettempdir()) / "k8py-compose-cluster.lock"
K8PY = str(ROOT / ".venv" / "bin" / "k8py")
WALKTHROUGH_IMAGES = ("k8py/hello:1.0", "k8py/hello:2.0", "k8py/toolbox:dev")

SURVIVOR = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: survivor}
spec:
  replicas: 2
  selector: {matchLabels: {app: survivor}}
  template:
    metadata: {labels: {app: survivor}}
    spec:
      terminationGracePeriodSeconds: 2
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - name: hello
        image: k8py/hello:1.0
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"""


# -- the README, without a cluster --------------------------------------------------------------


def test_every_walkthrough_command_has_a_check_its_sample_passes() -> None:
    """The README's sample outputs satisfy the same checks the live run applies."""
    commands = read_walkthrough(README)
    assert len(commands) >= 40, [c.text for c in commands]
    state = State(nodes=2)
    for command in commands:
        if command.background or command.text.startswith("kill %"):
            continue
        check = check_for(command.text)
        assert check is not None, f"no check for README command: {command.text}"
        assert check(command.sample, state) is None, (command.text, check(command.sample, state))
        advance(command.text, state)
    assert (state.replicas, state.version) == (3, "1.0")


# -- helpers ------------------------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def _lines(argv: list[str]) -> set[str]:
    done = _run(argv)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def docker_state(project: str) -> dict[str, set[str]]:
    """What `docker ps -a`, `network ls`, `volume ls` show of this cluster and project."""
    def names(kind: list[str], *filters: str) -> set[str]:
        found: set[str] = set()
        for f in filters:
            found |= _lines(["docker", *kind, "--filter", f, "--format", "{{.Name}}"
                             if kind[0] != "ps" else "{{.Names}}"])
        return found
    return {
        "containers": names(["ps", "-a"], f"label=com.docker.compose.project={project}",
                            "label=io.k8py.cluster=k8py"),
        "networks": {n for n in names(["network", "ls"], "name=k8py")
                     if n == "k8py" or n.startswith(f"{project}_")},
        "volumes": names(["volume", "ls"], f"name={project}_", "label=io.k8py.cluster=k8py"),
    }


def api_get(path: str) -> Any:
    response = httpx.get(f"{API}{path}", timeout=10)
    response.raise_for_status()
    return response.json()


def node_ready(name: str) -> bool:
    try:
        node = api_get(f"/api/v1/nodes/{name}")
    except httpx.HTTPError:
        return False
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in node.get("status", {}).get("conditions", []))


def survivors() -> list[dict[str, Any]]:
    return list(api_get("/api/v1/namespaces/default/pods?labelSelector=app%3Dsurvivor")["items"])


def _serving(pod: dict[str, Any]) -> bool:
    status = pod.get("status", {})
    return "deletionTimestamp" not in pod["metadata"] and status.get("phase") == "Running" and \
        all(c.get("ready") for c in status.get("containerStatuses") or [{}])


def node_container(number: int) -> str:
    ids = _lines(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
                  "--filter", "label=com.docker.compose.service=node",
                  "--filter", f"label=com.docker.compose.container-number={number}"])
    assert len(ids) == 1, ids
    return ids.pop()


@contextlib.contextmanager
def exclusive_cluster(tmp_path: Path) -> Iterator[None]:
    """Hold the lock on the host addresses; pause a developer's `k8py` cluster meanwhile."""
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = {k: v for k, v in os.environ.items() if k != "K8PY_COMPOSE_PROJECT"}
        scratch = str(tmp_path / "developer-kubeconfig")
        nodes = len(_lines(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=k8py",
                            "--filter", "label=com.docker.compose.service=node"]))
        running = _lines(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=k8py"])
        if running:
            done = _run([K8PY, "cluster", "down", "--keep-data", "--kubeconfig", scratch], env, 180)
            assert done.returncode == 0, done.stderr
        try:
            yield
        finally:
            if running:
                _run([K8PY, "cluster", "up", "--no-build", "--nodes", str(max(nodes, 1)),
                      "--kubeconfig", scratch], env, 300)


# -- the live run -----------------------------------------------------------------------------


def _node_loss(kubectl: list[str], env: dict[str, str], timings: dict[str, float]) -> None:
    done = _run([*kubectl, "apply", "-f", "-"], env, stdin=SURVIVOR)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: len([p for p in survivors() if _serving(p)]) == 2, 60, what="survivors up")
    placed = {p["spec"]["nodeName"] for p in survivors()}
    assert placed == {"node-1", "node-2"}, f"survivor replicas not spread: {placed}"
    evicted = {p["metadata"]["uid"] for p in survivors() if p["spec"]["nodeName"] == "node-2"}

    started = time.monotonic()
    assert _run(["docker", "stop", node_container(2)]).returncode == 0
    wait_for(lambda: not node_ready("node-2"), 60, what="node-2 NotReady")
    timings["node NotReady after stop"] = time.monotonic() - started
    wait_for(lambda: sorted(p["spec"]["nodeName"] for p in survivors() if _serving(p))
             == ["node-1", "node-1"], 60, what="survivor pods replaced on node-1")
    timings["pods replaced after node stop"] = time.monotonic() - started

    started = time.monotonic()
    assert _run(["docker", "start", node_container(2)]).returncode == 0
    wait_for(lambda: node_ready("node-2"), 60, what="node-2 Ready again")
    timings["node Ready after start"] = time.monotonic() - started
    wait_for(lambda: not evicted & {p["metadata"]["uid"] for p in survivors()}, 60,
             what="the evicted pods deleted once node-2's kubelet is back")
    leftovers = set()
    for uid in evicted:
        leftovers |= _lines(["docker", "ps", "-q", "--filter", f"label=io.k8py.pod-uid={uid}"])
    assert not leftovers, "containers of evicted pods still run"


def _compose_restart(env: dict[str, str], timings: dict[str, float]) -> None:
    before = {p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["containerID"]
              for p in survivors() if _serving(p)}
    started = time.monotonic()
    done = _run(["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"),
                 "restart"], env, 180)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: _run([K8PY, "cluster", "status"], env).returncode == 0, 90,
             interval=1, what="every component healthy after docker compose restart")
    timings["healthy after compose restart"] = time.monotonic() - started
    wait_for(lambda: len([p for p in survivors() if _serving(p)]) == 2, 30, what="survivors")
    after = {p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["containerID"]
             for p in survivors() if _serving(p)}
    assert after == before, "compose restart replaced pods or their containers"


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_cluster_up_walkthrough_node_loss_restart_down(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    env = dict(os.environ, K8PY_COMPOSE_PROJECT=PROJECT, K8PY_NODE_MONITOR_GRACE_PERIOD="8",
               K8PY_HEARTBEAT_PERIOD="2",
               KUBECONFIG=str(kubeconfig),
               PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    timings: dict[str, float] = {}
    missing = [i for i in WALKTHROUGH_IMAGES if _run(["docker", "image", "inspect", i]).returncode]
    if missing:  # `k8py cluster up` builds only what the cluster itself runs
        assert _run(["bash", str(ROOT / "images" / "build.sh"), "all"], timeout=3600).returncode == 0
    with exclusive_cluster(tmp_path):
        before = docker_state(PROJECT)
        runner = Runner(ROOT, env, tmp_path)
        started = time.monotonic()
        try:
            up = _run([K8PY, "cluster", "up", "--nodes", "2", "--timeout", "120s"], env, 1800)
            assert up.returncode == 0, up.stdout + up.stderr
            timings["cluster up"] = time.monotonic() - started
            config = yaml.safe_load(kubeconfig.read_text())
            assert config["current-context"] == "k8py"

            started = time.monotonic()
            runner.run_all(read_walkthrough(README), State(nodes=2))
            timings["walkthrough"] = time.monotonic() - started
            _node_loss(kubectl, env, timings)
            _compose_restart(env, timings)
        except BaseException:
            logs = _run(["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"),
                         "logs", "--tail=30"], env)
            print("\n".join(runner.transcript[-10:]), logs.stdout[-8000:], sep="\n")
            raise
        finally:
            runner.close()
            started = time.monotonic()
            down = _run([K8PY, "cluster", "down"], env, 300)
            timings["cluster down"] = time.monotonic() - started
            print("timings:", {k: round(v, 1) for k, v in timings.items()})
        assert down.returncode == 0, down.stdout + down.stderr
        assert docker_state(PROJECT) == before
        contexts = yaml.safe_load(kubeconfig.read_text()).get("contexts") or []
        assert not [c for c in contexts if c.get("name") == "k8py"]
