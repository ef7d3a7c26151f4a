"""The compose node agent: identity from Docker's view of the container, and supervision."""

from __future__ import annotations

import http.server
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelet.nodeagent import NodeIdentity, Supervisor, agent_commands, check, own_container_id, \
    replica_number

CID = "3f" * 32


def _proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    (tmp_path / "cgroup").write_text(cgroup)
    (tmp_path / "mountinfo").write_text(mountinfo)
    return tmp_path


def test_container_id_from_cgroup_v1(tmp_path: Path) -> None:
    proc = _proc(tmp_path, f"12:memory:/docker/{CID}\n1:name=systemd:/docker/{CID}\n", "")
    assert own_container_id(proc) == CID


def test_container_id_from_mounts_when_cgroups_are_namespaced(tmp_path: Path) -> None:
    layer = "ab" * 32  # overlay layer ids are 64 hex digits too, and must not be taken
    mountinfo = (
        f"600 500 0:50 / / rw - overlay overlay rw,upperdir=/var/lib/docker/overlay2/{layer}/diff\n"
        f"612 600 8:1 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw - ext4 /dev/sda1\n")
    assert own_container_id(_proc(tmp_path, "0::/\n", mountinfo)) == CID


def test_no_container_id_outside_docker(tmp_path: Path) -> None:
    assert own_container_id(_proc(tmp_path, "0::/user.slice\n", "22 1 8:1 / / rw - ext4\n")) is None
    assert own_container_id(tmp_path / "missing") is None


@pytest.mark.parametrize("inspect, number", [
    ({"Name": "/k8py_node_3", "Config": {"Labels": {"com.docker.compose.container-number": "3"}}}, 3),
    ({"Name": "/k8py_node_2", "Config": {"Labels": {}}}, 2),           # compose v1 name
    ({"Name": "/k8py-node-12", "Config": {"Labels": None}}, 12),       # compose v2 name
])
def test_replica_number(inspect: dict[str, object], number: int) -> None:
    assert replica_number(inspect) == number


@pytest.mark.parametrize("inspect", [
    {"Name": "/some_container", "Config": {"Labels": {}}},
    {"Name": "/k8py_node_300", "Config": {"Labels": {}}},
])
def test_replica_number_refuses_what_cannot_be_a_node(inspect: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replica_number(inspect)


def test_identity_and_commands_derive_from_the_number() -> None:
    node = NodeIdentity(3)
    assert (node.name, node.ip, node.kubelet_port) == ("node-3", "127.0.1.3", 10253)
    assert node.pod_cidr("10.244.0.0/16", 24) == "10.244.3.0/24"
    assert node.pod_cidr("10.231.8.0/21", 26) == "10.231.8.192/26"
    assert NodeIdentity(256).pod_cidr("10.244.0.0/16", 24) == ""  # past the last block
    assert node.pod_cidr("nonsense", 24) == ""
    commands = agent_commands(node, "http://127.0.0.1:6443", "10.244.3.0/24")
    kubelet, proxy = commands["kubelet"], commands["kube-proxy"]
    assert kubelet[1:3] == ["-m", "kubelet"] and proxy[1:3] == ["-m", "kubeproxy"]
    for argv in (kubelet, proxy):
        flags = dict(zip(argv[3::2], argv[4::2]))
        assert flags["--node-name"] == "node-3"
        assert flags["--node-ip"] == flags["--health-address"] == "127.0.1.3"
    assert dict(zip(kubelet[3::2], kubelet[4::2]))["--port"] == "10253"
    assert dict(zip(kubelet[3::2], kubelet[4::2]))["--node-pod-cidr"] == "10.244.3.0/24"
    assert [u.split("/")[2] for u in node.health_urls()] == ["127.0.1.3:10248", "127.0.1.3:10256"]


class _Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def status_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_check_needs_every_recorded_url_ready(tmp_path: Path, status_server: str) -> None:
    state = tmp_path / "state"
    assert check(str(state)) == 1  # the agent has not recorded anything yet
    state.write_text(f"{status_server}/readyz {status_server}/readyz\n")
    assert check(str(state)) == 0
    state.write_text(f"{status_server}/readyz {status_server}/broken\n")
    assert check(str(state)) == 1


def test_supervisor_stops_the_survivor_when_one_agent_dies() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    failing = [sys.executable, "-c", "import time, sys; time.sleep(0.3); sys.exit(3)"]
    supervisor = Supervisor({"long": sleeper, "short": failing}, grace=5,
                            log=logging.getLogger("test"))
    started = time.monotonic()
    assert supervisor.run() == 3
    assert time.monotonic() - started < 5
    assert supervisor.children["long"].returncode is not None
