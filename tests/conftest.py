"""Shared fixtures: a real etcd and real API server processes on free loopback ports.

Integration, e2e and compat tests all run against these; nothing is faked.  Unit tests of the
components that talk to the API (dns, ingress) use the in-memory one instead: ``fake`` and a
``client`` on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from machinery.client import ApiClient
from tests.machinery.client_fakeapi import FakeApiServer

# Shared assertion helpers get pytest's assertion messages, as they had inside the test modules.
pytest.register_assert_rewrite("tests.exports", "tests.compat.k8pycli", "tests.integration.polling")

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} while waiting for {url}")
        try:
            r = httpx.get(url, timeout=1.0)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0,
                 sig: int = signal.SIGTERM) -> int | None:
    """Signal a child and reap it, killing it if it outlives ``timeout``; its exit code.

    Every process a test starts is stopped this way, so none is left behind
    as a zombie or an orphan holding a port.  ``None`` if it never started.
    """
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def running(thing: T, start: Callable[[T], object], stop: Callable[[T], object]) -> Iterator[T]:
    """Start ``thing``, yield it, and stop it however the test or session ends.

    The body of every fixture that owns a process or a cluster (``yield from running(...)``),
    written once; as in those fixtures, a ``start`` that raises is not followed by ``stop``.
    """
    start(thing)
    try:
        yield thing
    finally:
        stop(thing)


class Etcd:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="k8py-etcd-")
        self.port = free_port()
        self.peer = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        etcd = shutil.which("etcd")
        if etcd is None:
            raise RuntimeError("etcd is not installed: run scripts/bootstrap")
        self.proc = subprocess.Popen(
            [etcd, "--data-dir", self.dir, "--listen-client-urls", self.url,
             "--advertise-client-urls", self.url, "--listen-peer-urls", f"http://127.0.0.1:{self.peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer}",
             "--initial-cluster", f"default=http://127.0.0.1:{self.peer}", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "etcd.log"), "wb"))
        wait_http(f"{self.url}/health", 20, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class ApiServerProcess:
    """``python -m apiserver`` as a child process."""

    def __init__(self, etcd_url: str, *, port: int | None = None, extra: list[str] | None = None) -> None:
        self.etcd_url = etcd_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="k8py-apiserver-", suffix=".log", delete=False)

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apiserver", "--etcd-servers", self.etcd_url,
             "--bind-address", "127.0.0.1", "--port", str(self.port), "--watch-bookmark-interval", "1",
             *self.extra],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/readyz", 30, self.proc)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


@pytest.fixture(scope="session")
def etcd() -> Iterator[Etcd]:
    yield from running(Etcd(), Etcd.start, Etcd.stop)


@pytest.fixture(scope="session")
def apiserver(etcd: Etcd) -> Iterator[ApiServerProcess]:
    yield from running(ApiServerProcess(etcd.url), ApiServerProcess.start, ApiServerProcess.stop)


@pytest.fixture(scope="session")
def kubeconfig(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k8py\n  cluster:\n    server: {apiserver.url}\n"
        "users:\n- name: k8py\n  user: {}\n"
        "contexts:\n- name: k8py\n  context:\n    cluster: k8py\n    user: k8py\n    namespace: default\n"
        "current-context: k8py\n")
    return str(path)


@pytest.fixture
def namespace(apiserver: ApiServerProcess, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = "t-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40].strip("-")
    name = name + "-" + os.urandom(2).hex()
    r = httpx.post(f"{apiserver.url}/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    try:
        yield name
    finally:
        httpx.delete(f"{apiserver.url}/api/v1/namespaces/{name}")


@pytest.fixture
def fake() -> FakeApiServer:
    """An empty in-memory API server."""
    return FakeApiServer()


@pytest.fixture
async def client(fake: FakeApiServer) -> AsyncIterator[ApiClient]:
    """An ``ApiClient`` talking to ``fake``; a module with its own ``client`` fixture overrides it."""
    async with ApiClient("http://127.0.0.1:1", transport=fake.transport) as api:
        yield api
