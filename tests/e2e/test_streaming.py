"""Logs, exec, attach and port-forward end to end: client -> API server -> kubelet -> Docker.

The session's two kubelet processes serve their streaming server on
``--port``; the API server proxies to it. The clients are the real ``kubectl``
1.32, the official Python client and ``k8py``. Pods are made once for the
module (bound with ``spec.nodeName``, no scheduler), and every container is
removed by label afterwards, pass or fail.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes.stream import portforward, stream

from machinery.meta import parse_time
from tests.conftest import ROOT, ApiServerProcess, free_port
from tests.e2e.conftest import Api, DockerCluster, KubeletProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TOOLBOX = "k8py/toolbox:dev"
HELLO = "k8py/hello:1.0"
K8PY = str(Path(sys.executable).with_name("k8py"))
KUBECTL = shutil.which("kubectl") or "kubectl"
HTTP_GET = b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n"


def _pod(name: str, node: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": containers, **spec}}


@dataclass
class Pods:
    ns: str
    kubeconfig: str
    api: Api

    def kubectl(self, *args: str, input: bytes | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "-n", self.ns, *args],
                              input=input, capture_output=True, timeout=timeout)

    def k8py(self, *args: str, input: bytes | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([K8PY, "--kubeconfig", self.kubeconfig, "-n", self.ns, *args],
                              input=input, capture_output=True, timeout=timeout, cwd=ROOT)


def _running(api: Api, ns: str, name: str, restarts: int = 0) -> bool:
    pod = api.pod(ns, name) or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all("running" in s.get("state", {}) and
                                  s.get("restartCount", 0) >= restarts for s in statuses)


@pytest.fixture(scope="module")
def pods(apiserver: ApiServerProcess, api: Api, kubelets: dict[str, KubeletProcess],
         docker_cluster: DockerCluster, kubeconfig: str) -> Iterator[Pods]:
    ns = f"streams-{os.urandom(3).hex()}"
    api.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    n1, n2 = kubelets["n1"].node, kubelets["n2"].node
    manifests = [
        _pod("ticker", n1, [{"name": "ticker", "image": TOOLBOX, "command": [
            "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"]}]),
        _pod("restarter", n1, [{"name": "main", "image": TOOLBOX, "command": [
            "sh", "-c", "if [ -f /data/ran ]; then echo second; exec sleep 3600; fi; "
                        "touch /data/ran; echo first; exit 1"],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            volumes=[{"name": "data", "emptyDir": {}}]),
        _pod("echo", n1, [{"name": "echo", "image": TOOLBOX, "stdin": True,
                           "command": ["cat"]}]),
        _pod("shell", n2, [{"name": "shell", "image": TOOLBOX, "command": ["sleep", "3600"]}]),
        _pod("web", n2, [
            {"name": "web", "image": HELLO, "ports": [{"name": "http", "containerPort": 8080}]},
            {"name": "local", "image": TOOLBOX, "command": [
                "python3", "-m", "http.server", "9000", "--bind", "127.0.0.1"]}]),
    ]
    try:
        for manifest in manifests:
            api.create_pod(ns, manifest)
        api.create(f"/api/v1/namespaces/{ns}/services", {
            "metadata": {"name": "websvc"},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            wait_for(lambda: _running(api, ns, name, 1 if name == "restarter" else 0), 60,
                     what=f"pod {name} running")
        yield Pods(ns, kubeconfig, api)
    finally:
        api.delete(f"/api/v1/namespaces/{ns}")
        docker_cluster.remove_containers(namespace=ns)


# -- logs -------------------------------------------------------------------------------------


def _stamped(pods: Pods) -> list[tuple[datetime, str]]:
    out = pods.kubectl("logs", "ticker", "--timestamps").stdout.decode().splitlines()
    return [(parse_time(stamp), text) for stamp, text in (line.split(" ", 1) for line in out)]


def _spanning(lines: list[tuple[datetime, str]], seconds: float) -> list[tuple[datetime, str]]:
    return lines if lines and (lines[-1][0] - lines[0][0]).total_seconds() > seconds else []


def test_kubectl_logs_tail_timestamps_limit_and_follow(pods: Pods) -> None:
    wait_for(lambda: b"line 3\n" in pods.kubectl("logs", "ticker").stdout, 10, what="4 lines")
    logs = pods.kubectl("logs", "ticker")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith(b"line 0\nline 1\nline 2\n")

    tail = pods.kubectl("logs", "ticker", "--tail=2").stdout.decode()
    assert re.fullmatch(r"line \d+\nline \d+\n", tail), tail

    stamped = pods.kubectl("logs", "ticker", "--timestamps", "--tail=1").stdout.decode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line \d+\n", stamped), stamped

    assert pods.kubectl("logs", "ticker", "--limit-bytes=7").stdout == b"line 0\n"
    # Once the log spans a few seconds, the since filters have something to cut.
    lines = wait_for(lambda: _spanning(_stamped(pods), 4), 30, what="4 s of log")
    recent = pods.kubectl("logs", "ticker", "--since=2s").stdout.decode().splitlines()
    assert recent and "line 0" not in recent
    # sinceTime travels with whole seconds: the first line of the next second starts the cut.
    first_second = lines[0][0].replace(microsecond=0)
    cut, text = next((t, x) for t, x in lines if t.replace(microsecond=0) > first_second)
    since_time = cut.strftime("%Y-%m-%dT%H:%M:%SZ")
    after = pods.kubectl("logs", "ticker", f"--since-time={since_time}").stdout.decode()
    assert after.splitlines()[0] == text

    follow = subprocess.Popen([KUBECTL, "--kubeconfig", pods.kubeconfig, "-n", pods.ns, "logs",
                               "-f", "--tail=1", "ticker"], stdout=subprocess.PIPE)
    try:
        assert follow.stdout is not None
        numbers = [int(follow.stdout.readline().split()[1]) for _ in range(4)]
    finally:
        follow.terminate()
        follow.wait(10)
    # New lines keep arriving on the open stream, one every 0.2 s.
    assert numbers == list(range(numbers[0], numbers[0] + 4))


def test_kubectl_logs_previous_instance_and_errors(pods: Pods) -> None:
    assert pods.kubectl("logs", "restarter").stdout == b"second\n"
    previous = pods.kubectl("logs", "restarter", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout == b"first\n"

    none = pods.kubectl("logs", "ticker", "--previous")
    assert none.returncode == 1
    assert b'previous terminated container "ticker" in pod "ticker" not found' in none.stderr

    missing = pods.kubectl("logs", "nope")
    assert missing.returncode == 1 and b'pods "nope" not found' in missing.stderr


# -- exec and attach --------------------------------------------------------------------------


def test_kubectl_exec_passes_output_and_exit_code(pods: Pods) -> None:
    done = pods.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert done.returncode == 7
    assert done.stdout == b"out\n"
    assert b"err\n" in done.stderr and b"command terminated with exit code 7" in done.stderr

    piped = pods.kubectl("exec", "-i", "shell", "--", "cat", input=b"hello stdin\n" * 1000)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == b"hello stdin\n" * 1000

    missing = pods.kubectl("exec", "shell", "--", "no-such-binary")
    assert missing.returncode != 0
    assert b"no-such-binary" in missing.stdout + missing.stderr


def test_kubectl_cp_both_ways(pods: Pods, tmp_path: Path) -> None:
    # cp is tar over exec: stdin in, then its half-close, must arrive whole.
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(300_000))
    up = pods.kubectl("cp", str(source), f"{pods.ns}/shell:/tmp/payload.bin")
    assert up.returncode == 0, up.stderr
    back = tmp_path / "back.bin"
    down = pods.kubectl("cp", f"{pods.ns}/shell:/tmp/payload.bin", str(back))
    assert down.returncode == 0, down.stderr
    assert back.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("program", [KUBECTL, K8PY], ids=["kubectl", "k8py"])
def test_exec_with_a_terminal(pods: Pods, program: str) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen([program, "--kubeconfig", pods.kubeconfig, "-n", pods.ns, "exec",
                             "-it", "shell", "--", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, cwd=ROOT)
    os.close(slave)
    output = b""
    typed = False
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not typed and b"#" in output:  # type at the shell's prompt, as a person would
                os.write(master, b"stty size; echo hi-$((40+2)); exit 3\n")
                typed = True
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: kubectl has exited and closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"hi-42" in output, output
    assert b"33 101" in output, output  # the terminal's size reached the remote one
    assert code == 3, output


def test_kubectl_attach_to_the_main_process(pods: Pods) -> None:
    proc = subprocess.Popen([KUBECTL, "--kubeconfig", pods.kubeconfig, "-n", pods.ns, "attach",
                             "-i", "echo"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        # Lines typed before the session is up may be lost with attach; keep typing.
        found = b""
        deadline = time.monotonic() + 20
        while b"ping" not in found and time.monotonic() < deadline:
            proc.stdin.write(b"ping\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                found += os.read(proc.stdout.fileno(), 4096)
        assert b"ping\n" in found
    finally:
        proc.kill()
        proc.wait(10)


# -- port-forward -----------------------------------------------------------------------------


def _http_get(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert response.status_code == 200
    return response.text


def _forwarding(argv: list[str], expect: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    match = re.match(rf"Forwarding from 127\.0\.0\.1:(\d+) -> {expect}$", line.strip())
    if match is None:
        proc.kill()
        raise AssertionError(f"unexpected output {line!r}: {proc.communicate()[1]!r}")
    return proc, int(match.group(1))


def test_kubectl_port_forward_to_a_pod(pods: Pods) -> None:
    local = free_port()
    proc, port = _forwarding([KUBECTL, "--kubeconfig", pods.kubeconfig, "-n", pods.ns,
                              "port-forward", "pod/web", f"{local}:8080"], "8080")
    try:
        assert port == local
        assert _http_get(port).startswith("Hello from web")
        assert _http_get(port).startswith("Hello from web")
    finally:
        proc.terminate()
        proc.wait(10)


# -- the official Python client ----------------------------------------------------------------


@pytest.fixture
def core(apiserver: ApiServerProcess) -> Iterator[k8s.CoreV1Api]:
    configuration = k8s.Configuration()
    configuration.host = apiserver.url
    with k8s.ApiClient(configuration) as api:
        yield k8s.CoreV1Api(api)


def _fetch(sock: Any) -> bytes:
    sock.settimeout(20)
    sock.sendall(HTTP_GET)
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    return response


def test_python_client_exec_and_port_forward(pods: Pods, core: k8s.CoreV1Api) -> None:
    output = stream(core.connect_get_namespaced_pod_exec, "shell", pods.ns,
                    command=["sh", "-c", "echo from python"], stderr=True, stdin=False,
                    stdout=True, tty=False)
    assert output == "from python\n"

    # One port per session: the channel framing cannot end one port's stream
    # alone, so a response is complete only when its WebSocket closes.
    for port, expected in ((8080, b"Hello from web"), (9000, b"Directory listing")):
        # http.server on 9000 listens on the pod's 127.0.0.1 only: reached from inside its netns.
        forward = portforward(core.connect_get_namespaced_pod_portforward, "web", pods.ns,
                              ports=str(port))
        try:
            assert expected in _fetch(forward.socket(port))
        finally:
            forward.close()
        assert forward.error(port) is None


# -- the k8py CLI ------------------------------------------------------------------------------


def test_k8py_logs_exec_and_port_forward(pods: Pods) -> None:
    logs = pods.k8py("logs", "restarter", "--previous")
    assert (logs.returncode, logs.stdout) == (0, b"first\n"), logs.stderr
    tail = pods.k8py("logs", "deploy/nope")
    assert tail.returncode == 1 and b"not found" in tail.stderr
    assert re.fullmatch(rb"line \d+\n", pods.k8py("logs", "pod/ticker", "--tail", "1").stdout)
    both = pods.k8py("logs", "web", "--all-containers", "--prefix", "--tail", "1")
    assert both.returncode == 0, both.stderr
    # (the "local" container may have logged nothing yet: python buffers its stdout)
    assert re.fullmatch(rb"\[pod/web/web\] [^\n]+\n(\[pod/web/local\] [^\n]+\n)?", both.stdout)
    follow = subprocess.Popen([K8PY, "--kubeconfig", pods.kubeconfig, "-n", pods.ns, "logs",
                               "-f", "--tail=1", "ticker"],
                              stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert follow.stdout is not None
        numbers = [int(follow.stdout.readline().split()[1]) for _ in range(3)]
    finally:
        follow.terminate()
        follow.wait(10)
    assert numbers == list(range(numbers[0], numbers[0] + 3))

    done = pods.k8py("exec", "shell", "--", "sh", "-c", "cat; echo err >&2; exit 4",
                     input=b"via k8py\n")
    assert done.returncode == 4
    assert done.stdout == b""  # no -i: stdin is not passed
    assert b"err\n" in done.stderr and b"command terminated with exit code 4" in done.stderr
    piped = pods.k8py("exec", "-i", "svc/websvc", "-c", "local", "--", "cat", input=b"via k8py\n")
    assert (piped.returncode, piped.stdout) == (0, b"via k8py\n"), piped.stderr

    proc, port = _forwarding([K8PY, "--kubeconfig", pods.kubeconfig, "-n", pods.ns,
                              "port-forward", "svc/websvc", ":80"], "8080")
    try:
        assert _http_get(port).startswith("Hello from web")
        assert _http_get(port).startswith("Hello from web")
    finally:
        proc.terminate()
        proc.wait(10)


# -- the kubelet's own endpoints ---------------------------------------------------------------


def test_kubelet_stats_and_status_errors(pods: Pods, kubelets: dict[str, KubeletProcess]) -> None:
    base = f"http://127.0.0.1:{kubelets['n2'].port}"
    assert httpx.get(f"{base}/healthz").text == "ok"
    stats = httpx.get(f"{base}/stats/{pods.ns}/web", timeout=15).json()
    assert {c["name"] for c in stats["containers"]} == {"web", "local"}
    assert all(c["memory"]["workingSetBytes"] > 0 for c in stats["containers"])

    missing = httpx.get(f"{base}/containerLogs/{pods.ns}/nope/nope")
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"
    wrong = httpx.get(f"{base}/containerLogs/{pods.ns}/web/nope")
    assert wrong.status_code == 404
    assert wrong.json()["message"] == 'container "nope" not found in pod "web"'
    bad = httpx.get(f"{base}/containerLogs/{pods.ns}/web/web?tailLines=-1")
    assert bad.status_code == 422 and bad.json()["reason"] == "Invalid"
