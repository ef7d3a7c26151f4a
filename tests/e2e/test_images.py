"""The images that images/build.sh makes run as intended, and leave nothing behind.

Every container started here carries a label naming this test run; a fixture
finalizer removes them all by that label, even when a test fails.  Only
loopback addresses are contacted (ports published on 127.0.0.1).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.e2e

LABEL = "k8py.test"
HASH_LABEL = "k8py.input-hash"
IMAGES = [
    "debian:bookworm-slim",
    "k8py/k8py:dev",
    "k8py/pause:3.10",
    "k8py/toolbox:dev",
    "k8py/hello:1.0",
    "k8py/hello:2.0",
]


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


class Containers:
    """Starts labelled containers; `cleanup` removes every one of them."""

    def __init__(self) -> None:
        self.run_id = f"test_images-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return docker("run", "--label", f"{LABEL}={self.run_id}", *args, timeout=timeout, check=check)

    def start(self, *args: str) -> str:
        return self.run("-d", *args).stdout.strip()

    def ids(self) -> list[str]:
        out = docker("ps", "-aq", "--filter", f"label={LABEL}={self.run_id}").stdout
        return out.split()

    def cleanup(self) -> None:
        ids = self.ids()
        if ids:
            docker("rm", "-f", *ids, check=False)


@pytest.fixture(scope="module")
def containers() -> Iterator[Containers]:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("no Docker engine (run scripts/bootstrap)")
    missing = [i for i in IMAGES if docker("image", "inspect", i, check=False).returncode != 0]
    if missing:
        pytest.fail(f"images missing, run images/build.sh all: {missing}")
    c = Containers()
    try:
        yield c
    finally:
        c.cleanup()
        assert c.ids() == [], "containers left behind"


def inspect(ref: str, kind: str = "container") -> dict:
    return json.loads(docker(kind, "inspect", ref).stdout)[0]


def wait_running(cid: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = inspect(cid)["State"]
        if state["Running"]:
            return
        if state["Status"] == "exited":
            raise AssertionError(f"{cid} exited: {docker('logs', cid).stderr}")
        time.sleep(0.05)
    raise AssertionError(f"{cid} not running after {timeout}s")


def http_get(url: str, timeout: float = 15) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status, resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# The Debian base may come from elsewhere (a pulled image), so it carries no hash of ours.
@pytest.mark.parametrize("image", [i for i in IMAGES if i != "debian:bookworm-slim"])
def test_images_carry_input_hash(containers: Containers, image: str) -> None:
    labels = inspect(image, "image")["Config"]["Labels"] or {}
    assert len(labels.get(HASH_LABEL, "")) == 64


def test_debian_base(containers: Containers) -> None:
    out = containers.run("--rm", "debian:bookworm-slim", "cat", "/etc/debian_version").stdout
    assert out.startswith("12.")


def test_pause_is_tiny_and_scratch(containers: Containers) -> None:
    img = inspect("k8py/pause:3.10", "image")
    assert img["Size"] < 2 * 1024 * 1024
    assert img["Config"]["Entrypoint"] == ["/pause"]
    assert len(img["RootFS"]["Layers"]) == 1
    out = containers.run("--rm", "k8py/pause:3.10", "--version").stdout
    assert "3.10" in out


@pytest.mark.parametrize("how", ["stop", "kill-int"])
def test_pause_exits_zero_on_term_and_int(containers: Containers, how: str) -> None:
    cid = containers.start("k8py/pause:3.10")
    wait_running(cid)
    started = time.monotonic()
    if how == "stop":
        docker("stop", "-t", "20", cid)  # SIGTERM; SIGKILL only after 20 s
    else:
        docker("kill", "-s", "INT", cid)
        docker("wait", cid, timeout=20)
    assert time.monotonic() - started < 10
    state = inspect(cid)["State"]
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 0


def test_pause_reaps_orphans(containers: Containers) -> None:
    """A process orphaned in the pod's PID namespace goes to pause, which reaps it."""
    sandbox = containers.start("k8py/pause:3.10")
    wait_running(sandbox)
    script = (
        "(sleep 0.5 &); sleep 0.2; "
        "echo orphans=$(ps -eo ppid=,comm= | awk '$1 == 1 && $2 == \"sleep\"' | wc -l); "
        "sleep 1.5; "
        "echo zombies=$(ps -eo stat= | grep -c '^Z')"
    )
    out = containers.run(
        "--rm", "--pid", f"container:{sandbox}", "k8py/toolbox:dev", "sh", "-c", script
    ).stdout
    assert "orphans=1" in out, out
    assert "zombies=0" in out, out


def test_toolbox_has_its_tools(containers: Containers) -> None:
    tools = "sh curl dig nslookup ip iptables nc ps python3 sleep timeout"
    out = containers.run(
        "--rm", "k8py/toolbox:dev", "sh", "-c",
        f"for t in {tools}; do command -v $t >/dev/null || echo missing:$t; done; "
        "dig -v 2>&1 | head -1; iptables --version",
    ).stdout
    assert "missing:" not in out, out
    assert "iptables" in out
    assert inspect("k8py/toolbox:dev", "image")["Config"]["Cmd"] == ["sleep", "infinity"]


def test_toolbox_serves_http(containers: Containers) -> None:
    script = (
        "python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 & "
        "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:8000/ && break; sleep 0.05; done; "
        "curl -s -o /dev/null -w 'code=%{http_code}' http://127.0.0.1:8000/"
    )
    out = containers.run("--rm", "k8py/toolbox:dev", "sh", "-c", script).stdout
    assert "code=200" in out


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_hello_answers_and_stops(containers: Containers, version: str) -> None:
    started = time.monotonic()
    cid = containers.start("-p", "127.0.0.1::8080", f"k8py/hello:{version}")
    port = docker("port", cid, "8080/tcp").stdout.split()[0].rsplit(":", 1)[1]
    status, body = http_get(f"http://127.0.0.1:{port}/")
    assert time.monotonic() - started < 10
    assert status == 200
    hostname = inspect(cid)["Config"]["Hostname"]
    assert body == f"Hello from {hostname} (version {version})\n"
    assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")

    t0 = time.monotonic()
    docker("stop", "-t", "20", cid)
    assert time.monotonic() - t0 < 10
    assert inspect(cid)["State"]["ExitCode"] == 0


def test_k8py_image(containers: Containers) -> None:
    img = inspect("k8py/k8py:dev", "image")
    assert not img["Config"]["Entrypoint"]
    script = (
        "for t in k8py python etcd nsenter iptables ip ps; do command -v $t >/dev/null || echo missing:$t; done; "
        "python -c 'import sys, apiserver, machinery; print(sys.prefix, sys.version_info[:2])'; "
        "etcd --version | head -1"
    )
    out = containers.run("--rm", "k8py/k8py:dev", "sh", "-c", script).stdout
    assert "missing:" not in out, out
    assert "/opt/k8py (3, 11)" in out
    assert "etcd Version: 3." in out
