"""The real kubectl 1.32 against serve_exec / serve_portforward behind a fake API server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.machinery.streams.streams_fakeapi import POD, FakeApiServer, free_port

pytestmark = [pytest.mark.compat, pytest.mark.timeout(120)]


def kubectl_env(kubeconfig: Path) -> dict[str, str]:
    # kubectl writes its discovery cache under $HOME; keep it in the test's folder.
    return dict(os.environ, HOME=str(kubeconfig.parent), KUBECONFIG=str(kubeconfig))


def kubectl(kubeconfig: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], input=stdin,
                          capture_output=True, timeout=60, env=kubectl_env(kubeconfig))


def exec_requests(api: FakeApiServer, sub: str) -> list[str]:
    return [f"{r.kind} {r.method} {','.join(r.subprotocols)}" for r in api.requests if r.path.endswith(sub)]


def test_exec_prints_both_streams_and_exits_with_the_remote_code(fake_api: FakeApiServer,
                                                                  fake_kubeconfig: Path) -> None:
    fake_api.requests.clear()
    result = kubectl(fake_kubeconfig, "exec", POD, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert result.returncode == 7
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\ncommand terminated with exit code 7\n"
    # one WebSocket offering only v5, and no SPDY fallback
    assert exec_requests(fake_api, "/exec") == ["websocket GET v5.channel.k8s.io"]


def test_exec_stdin_is_echoed_and_half_closed(fake_kubeconfig: Path) -> None:
    payload = b"".join(b"line %d\n" % i for i in range(2000))
    result = kubectl(fake_kubeconfig, "exec", "-i", POD, "--", "cat", stdin=payload)
    assert result.returncode == 0, result.stderr
    assert result.stdout == payload


def test_exec_true_exits_zero(fake_kubeconfig: Path) -> None:
    result = kubectl(fake_kubeconfig, "exec", POD, "--", "true")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_exec_of_a_missing_command_reports_the_error(fake_kubeconfig: Path) -> None:
    result = kubectl(fake_kubeconfig, "exec", POD, "--", "/nonexistent/command")
    assert result.returncode != 0
    assert b"failed to start /nonexistent/command" in result.stderr


@contextmanager
def port_forward(kubeconfig: Path, remote: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    local = free_port()
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "port-forward", f"pod/{POD}",
                             f"{local}:{remote}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=kubectl_env(kubeconfig))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # kubectl prints this once it listens
        assert line.startswith(f"Forwarding from 127.0.0.1:{local}".encode()), (line, proc.stderr)
        yield local, proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes its pipes


def fetch(port: int, path: str, body: bytes | None = None) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", body, timeout=20) as response:
        return bytes(response.read())


def test_port_forward_carries_separate_http_requests(fake_api: FakeApiServer, fake_kubeconfig: Path,
                                                     backend: ThreadingHTTPServer) -> None:
    fake_api.requests.clear()
    with port_forward(fake_kubeconfig, backend.server_address[1]) as (local, _):
        assert fetch(local, "/first") == b"backend /first #1\n"
        assert fetch(local, "/second") == b"backend /second #2\n"
        assert len(fetch(local, "/big")) == 1 << 20
        upload = os.urandom(3 << 20)  # far past SPDY's 64 KiB initial window
        assert fetch(local, "/upload", upload) == hashlib.sha256(upload).hexdigest().encode()
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda i: fetch(local, f"/c{i}"), range(8)))
        assert sorted(b.split(b" ")[1] for b in bodies) == sorted(f"/c{i}".encode() for i in range(8))
    # all of it through one tunnelled SPDY WebSocket, no raw SPDY fallback
    assert exec_requests(fake_api, "/portforward") == ["websocket GET SPDY/3.1+portforward.k8s.io"]


def test_port_forward_reports_a_refused_connection(fake_kubeconfig: Path) -> None:
    dead = free_port()
    with port_forward(fake_kubeconfig, dead) as (local, proc):
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            fetch(local, "/")
        _, stderr = proc.communicate(timeout=30)
    assert f"an error occurred forwarding {local} -> {dead}: error forwarding port {dead}".encode() in stderr


def test_exec_with_a_terminal_sends_its_size(fake_kubeconfig: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 101, 0, 0))
    # Poll until kubectl's first resize message has reached the remote terminal.
    script = ('for i in $(seq 100); do s=$(stty size); [ "$s" != "0 0" ] && break; sleep 0.05; done; '
              'echo "size=$s"; exit 3')
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(fake_kubeconfig), "exec", "-it", POD, "--",
                             "sh", "-c", script], stdin=slave, stdout=slave, stderr=slave,
                            env=kubectl_env(fake_kubeconfig))
    os.close(slave)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once kubectl has exited and the terminal is gone
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(30) == 3
    finally:
        proc.kill()
        proc.wait(10)
        os.close(master)
    assert b"size=31 101" in output
    assert b"command terminated with exit code 3" in output
