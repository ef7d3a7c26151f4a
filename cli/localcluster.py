"""The local compose cluster's plumbing for ``k8py cluster``: Docker, compose, images, probes.

Everything here drives the ``docker`` command line, as a user would, so each
step has a command one can rerun by hand, and so the CLI needs no Docker SDK
import for its other verbs.  The cluster is found by name only: the compose
project ``k8py`` and the ``io.k8py.cluster=k8py`` label the kubelets stamp on
pod containers, volumes and the ``k8py`` network, so other clusters on the
same engine (test clusters carry other names) are never touched.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cli.errors import CliError

__all__ = ["LocalCluster", "CLUSTER", "SERVER", "NODE_IMAGES", "find_repo", "docker_ok",
           "http_ok"]

# The cluster's name: kubeconfig context, io.k8py.cluster label, Docker network.
CLUSTER = "k8py"
SERVER = "http://127.0.0.1:6443"
CLUSTER_LABEL = f"io.k8py.cluster={CLUSTER}"
NETWORK = CLUSTER
POD_DATA = Path("/var/lib/k8py/kubelet")
# What the compose file runs plus the pod sandbox; examples need k8py/hello too.
NODE_IMAGES = ("k8py/k8py:dev", "k8py/pause:3.10")
CONTROL_PLANE_HEALTH = {
    "apiserver": f"{SERVER}/readyz",
    "controller-manager": "http://127.0.0.1:10257/healthz",
    "scheduler": "http://127.0.0.1:10259/healthz",
}


def find_repo() -> Path | None:
    """The source checkout this CLI runs from (or ``$K8PY_ROOT``), if it has the compose file."""
    candidates = [Path(os.environ["K8PY_ROOT"])] if os.environ.get("K8PY_ROOT") else []
    candidates.append(Path(__file__).resolve().parent.parent)
    for root in candidates:
        if (root / "docker-compose.yml").is_file():
            return root
    return None


def _run(argv: list[str], *, timeout: float = 300, check: bool = True,
         capture: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout, env=env)
    except FileNotFoundError as exc:
        raise CliError(f"{argv[0]} is not installed (run scripts/bootstrap)") from exc
    except subprocess.TimeoutExpired as exc:
        raise CliError(f"`{' '.join(argv)}` did not finish within {timeout:.0f}s") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout or "").strip().splitlines()[-5:] if capture else []
        raise CliError(f"`{' '.join(argv)}` failed ({done.returncode})"
                       + ("".join(f"\n  {line}" for line in detail)))
    return done


def docker_ok() -> bool:
    return _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20,
                check=False).returncode == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class LocalCluster:
    """The compose project (``k8py``) defined by ``<repo>/docker-compose.yml``.

    ``$K8PY_COMPOSE_PROJECT`` renames the project, so its etcd volume is
    another one: the walkthrough test runs that way without touching the
    volume of a cluster it stopped with ``down --keep-data``.
    """

    repo: Path | None
    project: str = CLUSTER

    @classmethod
    def discover(cls) -> LocalCluster:
        return cls(find_repo(), os.environ.get("K8PY_COMPOSE_PROJECT") or CLUSTER)

    # -- compose ------------------------------------------------------------------------------

    def compose_file(self) -> Path:
        if self.repo is None:
            raise CliError("no k8py source checkout found (docker-compose.yml): run k8py from "
                           "its repository, or set K8PY_ROOT to it")
        return self.repo / "docker-compose.yml"

    def compose(self, *args: str, timeout: float = 300, check: bool = True,
                capture: bool = True) -> subprocess.CompletedProcess[str]:
        """``docker compose`` (or Debian's ``docker-compose`` v1) on this project."""
        base = ["docker", "compose"] if _has_compose_plugin() else ["docker-compose"]
        return _run([*base, "-p", self.project, "-f", str(self.compose_file()), *args],
                    timeout=timeout, check=check, capture=capture)

    def up(self, nodes: int) -> None:
        self.compose("up", "-d", "--remove-orphans", "--scale", f"node={nodes}")

    def down(self, *, keep_data: bool) -> None:
        self.compose("down", "--remove-orphans", "-t", "10", *([] if keep_data else ["-v"]))

    def services(self) -> dict[str, list[str]]:
        """State of each compose container by service: ``running (healthy)`` and the like."""
        rows = _run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                     "--format", '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}'],
                    timeout=30).stdout.splitlines()
        states: dict[str, list[str]] = {}
        for row in sorted(rows):
            service, state, status = (row.split("\t") + ["", ""])[:3]
            found = re.search(r"\((healthy|unhealthy|health: starting)\)", status)
            health = found.group(1) if found else ""
            states.setdefault(service, []).append(f"{state} ({health})" if health else state)
        return states

    # -- images -------------------------------------------------------------------------------

    def missing_images(self, images: tuple[str, ...] = NODE_IMAGES) -> list[str]:
        return [image for image in images
                if _run(["docker", "image", "inspect", image], timeout=30,
                        check=False).returncode != 0]

    def build_images(self) -> None:
        """images/build.sh all: offline, and only what is missing or changed."""
        if self.repo is None or not (self.repo / "images" / "build.sh").is_file():
            raise CliError("images/build.sh is not available outside a k8py source checkout: "
                           f"build the images ({', '.join(NODE_IMAGES)}) there first")
        _run(["bash", str(self.repo / "images" / "build.sh"), "all"], timeout=3600,
             capture=False)

    # -- leftovers ----------------------------------------------------------------------------

    def remove_pods_and_network(self) -> dict[str, int]:
        """Pod containers, kubelet volumes and the cluster network, all by label; counts."""
        containers = _ids(["docker", "ps", "-aq", "--filter", f"label={CLUSTER_LABEL}"])
        if containers:
            _run(["docker", "rm", "-f", "-v", *containers], timeout=120, check=False)
        volumes = _ids(["docker", "volume", "ls", "-q", "--filter", f"label={CLUSTER_LABEL}"])
        if volumes:
            _run(["docker", "volume", "rm", "-f", *volumes], timeout=60, check=False)
        networks = _ids(["docker", "network", "ls", "-q", "--filter", f"name=^{NETWORK}$",
                         "--filter", f"label={CLUSTER_LABEL}"])
        if networks:
            _run(["docker", "network", "rm", *networks], timeout=60)
        return {"containers": len(containers), "volumes": len(volumes),
                "networks": len(networks)}

    @staticmethod
    def remove_pod_data() -> None:
        """Pod volume contents the compose nodes wrote (configMaps, secrets, emptyDirs).

        Only the ``node-<n>`` folders: a kubelet run by hand without
        ``--root-dir`` keeps its pods' files beside them.
        """
        if not POD_DATA.is_dir():
            return
        for child in POD_DATA.iterdir():
            if not re.fullmatch(r"node-\d+", child.name) or child.is_symlink():
                continue
            try:
                shutil.rmtree(child)
            except PermissionError as exc:
                raise CliError(f"cannot remove {child}: {exc.strerror} (run as root)") from exc


def _ids(argv: list[str]) -> list[str]:
    return _run(argv, timeout=60).stdout.split()


@functools.cache
def _has_compose_plugin() -> bool:
    """Compose v2 (or scripts/bootstrap's shim) as ``docker compose``; else ``docker-compose``."""
    return _run(["docker", "compose", "version"], timeout=30, check=False).returncode == 0
