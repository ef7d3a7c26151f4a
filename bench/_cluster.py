"""A throwaway k8py cluster of local processes, for benchmarks.

etcd, ``python -m apiserver``, ``python -m scheduler``, optionally the
controller manager (``python -m controllers``, for workloads such as
Deployments) and N ``python -m kubelet`` on this machine, the kubelets
driving the local Docker engine on a bridge network of their own.  The
pieces are the test suite's own (``tests/conftest.py`` for etcd and the API
server, ``tests/e2e/conftest.py`` for the Docker side and kubelets), so a
benchmark measures exactly what the tests exercise.  ``stop`` (also on
error, via ``with``) removes every container, volume and network the run
created.

    with ProcessCluster(kubelets=2, controllers="*") as cluster:
        cluster.api_url  # talk to it
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.conftest import (  # noqa: E402
    ROOT,
    ApiServerProcess,
    Etcd,
    free_port,
    stop_process,
    wait_http,
)
from tests.e2e.conftest import DockerCluster, KubeletProcess  # noqa: E402

__all__ = ["Component", "ProcessCluster"]


class Component:
    """``python -m <module> <args>`` with a health port, logging to a file kept after the run."""

    def __init__(self, module: str, args: list[str], log_dir: Path) -> None:
        self.module = module
        self.health_port = free_port()
        self.log_path = log_dir / f"{module}.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--health-address", "127.0.0.1",
             "--health-port", str(self.health_port)],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log,
            stderr=subprocess.STDOUT)
        log.close()
        wait_http(f"http://127.0.0.1:{self.health_port}/readyz", 30, self.proc)

    def stop(self) -> None:
        stop_process(self.proc, 15)


class ProcessCluster:
    """``controllers`` is the controller manager's ``--controllers`` selection ("*" for
    all it runs by default); without it no controller manager starts."""

    def __init__(self, kubelets: int = 2, controllers: str | None = None) -> None:
        self.kubelet_count = kubelets
        self.controller_selection = controllers
        self.log_dir = Path(tempfile.mkdtemp(prefix="k8py-bench-logs-"))
        self.etcd: Etcd | None = None
        self.apiserver: ApiServerProcess | None = None
        self.scheduler: Component | None = None
        self.controllers: Component | None = None
        self.docker: DockerCluster | None = None
        self.kubelets: list[KubeletProcess] = []

    @property
    def api_url(self) -> str:
        assert self.apiserver is not None, "the cluster is not started"
        return self.apiserver.url

    def start(self) -> ProcessCluster:
        self.etcd = Etcd()
        self.etcd.start()
        self.apiserver = ApiServerProcess(self.etcd.url)
        self.apiserver.start()
        self.scheduler = Component("scheduler", ["--master", self.apiserver.url,
                                                 "--no-leader-elect"], self.log_dir)
        if self.controller_selection is not None:
            self.controllers = Component("controllers", [
                "--master", self.apiserver.url, "--no-leader-elect",
                "--controllers", self.controller_selection], self.log_dir)
        self.docker = DockerCluster()
        self.docker.ensure_images()
        for index in range(1, self.kubelet_count + 1):
            kubelet = KubeletProcess(self.apiserver.url, self.docker,
                                     f"{self.docker.name}-n{index}", self.log_dir)
            self.kubelets.append(kubelet)
            kubelet.start()
        return self

    def stop(self) -> None:
        """Stop everything started, in reverse order; never raises half-way."""
        for kubelet in self.kubelets:
            kubelet.stop()
        if self.docker is not None:
            self.docker.cleanup()
        if self.controllers is not None:
            self.controllers.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.apiserver is not None:
            self.apiserver.stop()
        if self.etcd is not None:
            self.etcd.stop()

    def __enter__(self) -> ProcessCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
