"""The kubelet server's request handling without Docker: queries, instance choice, Status errors.

Routes run under Starlette's TestClient against an in-memory runtime that
knows only container records, so every refusal the server must make before
touching Docker is checked here, with the exact Status it sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from kubelet.logs import LogOptions, pick_instance
from kubelet.runtime import (
    KIND_APP, KIND_SANDBOX, LABEL_CONTAINER, LABEL_KIND, LABEL_POD_UID, ContainerInfo,
)
from kubelet.server import KubeletServer
from kubelet.stats import container_usage
from machinery import errors

Obj = dict[str, Any]
UID = "0d6a6b9e-0000-4000-8000-000000000001"


def info(name: str, state: str, created: str, *, kind: str = KIND_APP, error: str = "") -> ContainerInfo:
    return ContainerInfo(id=f"id-{name}-{created}", name=name, state=state, created=created,
                         error=error, labels={LABEL_POD_UID: UID, LABEL_KIND: kind,
                                              LABEL_CONTAINER: "" if kind == KIND_SANDBOX else name})


class Runtime:
    """What the server asks of ``DockerRuntime`` when it refuses a request."""

    def __init__(self, containers: list[ContainerInfo]) -> None:
        self.api = SimpleNamespace(api_version="1.41")
        self.containers = containers

    async def pod_containers(self, uid: str) -> list[ContainerInfo]:
        found = [c for c in self.containers if c.pod_uid == uid]
        return sorted(found, key=lambda c: c.created, reverse=True)


def pod(**status: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "uid": UID},
            "spec": {"containers": [{"name": "app"}, {"name": "side"}],
                     "initContainers": [{"name": "setup"}]},
            "status": status}


@pytest.fixture
def runtime() -> Runtime:
    return Runtime([info("app", "running", "2025-01-01T00:00:02Z"),
                    info("setup", "exited", "2025-01-01T00:00:01Z"),
                    info("side", "created", "2025-01-01T00:00:02Z")])


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    pods = {("default", "web"): pod(containerStatuses=[
        {"name": "side", "state": {"waiting": {"reason": "PodInitializing"}}}])}
    server = KubeletServer(runtime, lambda ns, name: pods.get((ns, name)),  # type: ignore[arg-type]
                           "unix:///var/run/docker.sock", host="127.0.0.1", port=0)
    with TestClient(server.app) as test_client:
        yield test_client


# -- log options --------------------------------------------------------------------------------


def test_log_options_parse_like_the_api_server() -> None:
    options = LogOptions.from_query({"follow": "true", "tailLines": "5", "timestamps": "1",
                                     "previous": "false", "limitBytes": "100",
                                     "sinceTime": "2025-01-02T03:04:05Z"})
    assert options == LogOptions(follow=True, tail_lines=5, timestamps=True, limit_bytes=100,
                                 since_time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert LogOptions.from_query({}) == LogOptions()


@pytest.mark.parametrize(("query", "error", "message"), [
    ({"tailLines": "-1"}, errors.Invalid, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
    ({"limitBytes": "0"}, errors.Invalid, "limitBytes: Invalid value: 0: must be greater than 0"),
    ({"sinceSeconds": "0"}, errors.Invalid, "sinceSeconds: Invalid value: 0: must be greater than 0"),
    ({"sinceSeconds": "5", "sinceTime": "2025-01-01T00:00:00Z"}, errors.BadRequest,
     "at most one of `sinceTime` or `sinceSeconds` may be specified"),
    ({"follow": "maybe"}, errors.BadRequest, 'invalid value "maybe" for follow: expected a boolean'),
    ({"tailLines": "ten"}, errors.BadRequest, 'invalid value "ten" for tailLines: expected an integer'),
    ({"sinceTime": "yesterday"}, errors.BadRequest, "for sinceTime: expected RFC 3339"),
])
def test_log_options_refuse_what_validation_refuses(query: dict[str, str], error: type[errors.ApiError],
                                                    message: str) -> None:
    with pytest.raises(error) as caught:
        LogOptions.from_query(query)
    assert message in caught.value.message


def test_docker_params_map_since_tail_and_timestamps() -> None:
    params = LogOptions(follow=True, tail_lines=0, since_seconds=10, timestamps=True).docker_params(
        now=1_700_000_000.5)
    assert params == {"stdout": "1", "stderr": "1", "follow": "1", "timestamps": "1", "tail": "0",
                      "since": "1699999990.500000000"}
    since_time = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert LogOptions(since_time=since_time).docker_params()["since"] == "1700000000.000000000"
    assert "tail" not in LogOptions().docker_params() and "since" not in LogOptions().docker_params()


def test_pick_instance_current_previous_and_waiting() -> None:
    current = info("app", "running", "2025-01-01T00:00:03Z")
    dead = info("app", "exited", "2025-01-01T00:00:01Z")
    assert pick_instance([current, dead], LogOptions(), "web", "app") is current
    assert pick_instance([current, dead], LogOptions(previous=True), "web", "app") is dead
    with pytest.raises(errors.BadRequest, match='previous terminated container "app" in pod "web" not found'):
        pick_instance([current], LogOptions(previous=True), "web", "app")
    with pytest.raises(errors.BadRequest, match='container "app" in pod "web" is waiting to start: ErrImagePull'):
        pick_instance([], LogOptions(), "web", "app", "ErrImagePull")
    # A container that failed to start has logs worth reading (its error), not a wait.
    failed = info("app", "created", "2025-01-01T00:00:04Z", error="exec format error")
    assert pick_instance([failed], LogOptions(), "web", "app") is failed


def test_container_usage_from_docker_stats() -> None:
    stats = {"read": "2025-01-01T00:00:01.5Z", "preread": "2025-01-01T00:00:00.5Z",
             "cpu_stats": {"cpu_usage": {"total_usage": 350_000_000}},
             "precpu_stats": {"cpu_usage": {"total_usage": 100_000_000}},
             "memory_stats": {"usage": 10_000, "stats": {"total_inactive_file": 4_000}}}
    assert container_usage(stats) == (250_000_000, 6_000)
    first_sample = dict(stats, preread="0001-01-01T00:00:00Z",
                        memory_stats={"usage": 5, "stats": {"inactive_file": 9}})
    assert container_usage(first_sample) == (0, 0)


# -- routes -------------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"


@pytest.mark.parametrize(("path", "code", "reason", "message"), [
    ("/containerLogs/default/nope/app", 404, "NotFound", 'pods "nope" not found'),
    ("/containerLogs/other/web/app", 404, "NotFound", 'pods "web" not found'),
    ("/containerLogs/default/web/nope", 404, "NotFound", 'container "nope" not found in pod "web"'),
    ("/containerLogs/default/web/app?previous=true", 400, "BadRequest",
     'previous terminated container "app" in pod "web" not found'),
    ("/containerLogs/default/web/side", 400, "BadRequest",
     'container "side" in pod "web" is waiting to start: PodInitializing'),
    ("/containerLogs/default/web/app?limitBytes=-5", 422, "Invalid",
     "limitBytes: Invalid value: -5: must be greater than 0"),
])
def test_logs_refusals_are_status_objects(client: TestClient, path: str, code: int, reason: str,
                                          message: str) -> None:
    response = client.get(path)
    assert response.status_code == code
    body = response.json()
    assert (body["kind"], body["status"], body["code"], body["reason"]) == ("Status", "Failure", code, reason)
    assert body["message"] == message


def _denied(client: TestClient, path: str, protocols: list[str] | None = None) -> Obj:
    with pytest.raises(WebSocketDenialResponse) as caught:
        with client.websocket_connect(path, subprotocols=protocols or ["v5.channel.k8s.io"]):
            pass
    body: Obj = caught.value.json()
    assert caught.value.status_code == body["code"]
    return body


@pytest.mark.parametrize(("path", "code", "message"), [
    ("/exec/default/nope/app?command=ls&stdout=true", 404, 'pods "nope" not found'),
    ("/exec/default/web/nope?command=ls&stdout=true", 404, 'container "nope" not found in pod "web"'),
    ("/exec/default/web/app?stdout=true", 400, "you must specify at least 1 command"),
    ("/exec/default/web/app?command=ls", 400, "you must specify at least one of stdin, stdout, stderr"),
    ("/attach/default/nope/app?stdout=true", 404, 'pods "nope" not found'),
])
def test_exec_and_attach_refused_before_the_upgrade(client: TestClient, path: str, code: int,
                                                    message: str) -> None:
    body = _denied(client, path)
    assert (body["code"], body["message"]) == (code, message)


def test_exec_offering_no_known_subprotocol_is_refused(client: TestClient) -> None:
    body = _denied(client, "/exec/default/web/app?command=ls&stdout=true", ["v9.channel.k8s.io"])
    assert body["code"] == 400 and "subprotocol" in body["message"]


def test_exec_in_a_container_that_is_not_running_reports_on_the_error_channel(client: TestClient) -> None:
    with client.websocket_connect("/exec/default/web/side?command=ls&stdout=true",
                                  subprotocols=["v5.channel.k8s.io"]) as ws:
        assert ws.accepted_subprotocol == "v5.channel.k8s.io"
        frame = ws.receive_bytes()
        assert frame[0] == 3
        status = json.loads(frame[1:])
        assert status["status"] == "Failure"
        assert status["message"] == 'container "side" in pod "web" is not running'
        closed = ws.receive()
    assert closed == {"type": "websocket.close", "code": 1000, "reason": ""}


@pytest.mark.parametrize(("path", "protocols", "code", "message"), [
    ("/portForward/default/web?ports=http", ["v4.channel.k8s.io"], 400, "unable to parse 'http' as a port"),
    ("/portForward/default/web?ports=70000", ["v4.channel.k8s.io"], 400, "must be between 1 and 65535"),
    ("/portForward/default/web", ["v4.channel.k8s.io"], 400, 'query parameter "port" is required'),
    ("/portForward/default/web?ports=80", ["v9.channel.k8s.io"], 400, "subprotocol"),
    ("/portForward/default/nope?ports=80", ["v4.channel.k8s.io"], 404, 'pods "nope" not found'),
    ("/portForward/default/web?ports=80", ["v4.channel.k8s.io"], 400,
     'pod "web" has no running sandbox to forward ports into'),
])
def test_portforward_refusals(client: TestClient, path: str, protocols: list[str], code: int,
                              message: str) -> None:
    body = _denied(client, path, protocols)
    assert body["code"] == code and message in body["message"]


def test_spdy_portforward_needs_no_ports_but_a_sandbox(client: TestClient, runtime: Runtime) -> None:
    body = _denied(client, "/portForward/default/web", ["SPDY/3.1+portforward.k8s.io"])
    assert body["message"] == 'pod "web" has no running sandbox to forward ports into'
    runtime.containers.append(info("", "running", "2025-01-01T00:00:00Z", kind=KIND_SANDBOX))
    with client.websocket_connect("/portForward/default/web",
                                  subprotocols=["SPDY/3.1+portforward.k8s.io"]) as ws:
        assert ws.accepted_subprotocol == "SPDY/3.1+portforward.k8s.io"


def test_stats_of_an_unknown_pod_is_not_found(client: TestClient) -> None:
    response = client.get("/stats/default/nope")
    assert response.status_code == 404 and response.json()["message"] == 'pods "nope" not found'
