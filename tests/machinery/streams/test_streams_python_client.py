"""The official Python client's exec and port-forward against serve_exec / serve_portforward."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from kubernetes import client
from kubernetes.stream import portforward, stream
from tests.machinery.streams.streams_fakeapi import NAMESPACE, POD, FakeApiServer

pytestmark = [pytest.mark.compat, pytest.mark.timeout(60)]


@pytest.fixture
def core(fake_api: FakeApiServer) -> Iterator[client.CoreV1Api]:
    configuration = client.Configuration()
    configuration.host = fake_api.url
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def test_stream_exec_returns_output(core: client.CoreV1Api, fake_api: FakeApiServer) -> None:
    fake_api.requests.clear()
    output = stream(core.connect_get_namespaced_pod_exec, POD, NAMESPACE,
                    command=["sh", "-c", "echo hello from exec"], stderr=True, stdin=False,
                    stdout=True, tty=False)
    assert output == "hello from exec\n"
    assert [r.subprotocols for r in fake_api.requests if r.path.endswith("/exec")] == [
        ["v5.channel.k8s.io", "v4.channel.k8s.io"]]


def test_stream_exec_return_code_and_stdin(core: client.CoreV1Api) -> None:
    resp = stream(core.connect_get_namespaced_pod_exec, POD, NAMESPACE,
                  command=["sh", "-c", "cat; echo to-stderr >&2; exit 5"], stderr=True, stdin=True,
                  stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("piped input\n")
    resp.close_channel(0)  # v5 half-close
    resp.run_forever(timeout=20)
    try:
        assert resp.read_stdout() == "piped input\n"
        assert resp.read_stderr() == "to-stderr\n"
        assert resp.returncode == 5
    finally:
        resp.close()


def test_portforward_carries_an_http_request(core: client.CoreV1Api, backend: ThreadingHTTPServer) -> None:
    port = backend.server_address[1]
    forward = portforward(core.connect_get_namespaced_pod_portforward, POD, NAMESPACE, ports=str(port))
    sock = forward.socket(port)
    sock.settimeout(20)
    sock.sendall(b"GET /via-python HTTP/1.0\r\nHost: pod\r\n\r\n")
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    forward.close()
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"backend /via-python #1\n")
    assert forward.error(port) is None


def test_portforward_reports_a_refused_port(core: client.CoreV1Api) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    forward = portforward(core.connect_get_namespaced_pod_portforward, POD, NAMESPACE, ports=str(dead))
    sock = forward.socket(dead)
    sock.settimeout(20)
    assert sock.recv(1) == b""
    forward.close()
    assert forward.error(dead).startswith(f"error forwarding port {dead}")
