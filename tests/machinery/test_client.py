"""The REST client against an in-memory API server: paths, verbs, errors, watch streams."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from tests.machinery.client_fakeapi import FakeApiServer

from machinery import client as client_module
from machinery import errors
from machinery.client import ApiClient, resolve_resource
from machinery.resources import lookup

PODS = lookup("pods")
NODES = lookup("nodes")
DEPLOY = lookup("deploy")
assert PODS and NODES and DEPLOY


@pytest.fixture
def server() -> FakeApiServer:
    return FakeApiServer()


@pytest.fixture
async def api(server: FakeApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient("http://127.0.0.1:6443", transport=server.transport, token="s3cret",
                         user_agent="k8py-test") as c:
        yield c


def pod(name: str, namespace: str = "default", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_exports_exist() -> None:
    for name in client_module.__all__:
        assert hasattr(client_module, name), name


def test_resolve_resource() -> None:
    assert resolve_resource("deploy") is DEPLOY
    assert resolve_resource(PODS) is PODS
    with pytest.raises(errors.NotFound, match="doesn't have a resource type"):
        resolve_resource("nope")


async def test_create_get_and_headers(api: ApiClient, server: FakeApiServer) -> None:
    created = await api.create("pods", pod("a"), field_manager="me")
    assert created["metadata"]["resourceVersion"]
    request = server.requests[-1]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/namespaces/default/pods"
    assert request.url.params["fieldManager"] == "me"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["User-Agent"] == "k8py-test"
    assert request.headers["Content-Type"] == "application/json"
    got = await api.get(PODS, "a", "default")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]


async def test_namespace_defaults(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a", "team"))
    assert server.requests[-1].url.path == "/api/v1/namespaces/team/pods"
    await api.get("pods", "a", "team")
    with pytest.raises(errors.NotFound):
        await api.get("pods", "a")  # the client's default namespace
    assert server.requests[-1].url.path == "/api/v1/namespaces/default/pods/a"
    await api.create("nodes", {"metadata": {"name": "n1"}}, namespace="ignored")
    assert server.requests[-1].url.path == "/api/v1/nodes"
    await api.list("nodes", "ignored")
    assert server.requests[-1].url.path == "/api/v1/nodes"
    await api.list("pods")
    assert server.requests[-1].url.path == "/api/v1/pods"


async def test_errors_are_typed(api: ApiClient) -> None:
    with pytest.raises(errors.NotFound) as info:
        await api.get("deployments", "missing", "default")
    assert info.value.code == 404 and info.value.name == "missing"
    await api.create("pods", pod("a"))
    with pytest.raises(errors.AlreadyExists):
        await api.create("pods", pod("a"))


async def test_non_status_error_body(server: FakeApiServer, api: ApiClient) -> None:
    server.fail.append(lambda r: httpx.Response(502, text="bad gateway"))
    with pytest.raises(errors.ApiError) as info:
        await api.get("pods", "a")
    assert info.value.code == 502 and "bad gateway" in info.value.message


async def test_transport_errors_become_service_unavailable(server: FakeApiServer,
                                                           api: ApiClient) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server.fail.append(refuse)
    with pytest.raises(errors.ServiceUnavailable) as info:
        await api.get("pods", "a")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_retry_after_is_honoured(server: FakeApiServer, api: ApiClient) -> None:
    calls = []

    def busy_twice(request: httpx.Request) -> httpx.Response | None:
        calls.append(request)
        if len(calls) <= 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, json=errors.TooManyRequests(
                "slow down").to_status())
        return None

    server.fail.append(busy_twice)
    await api.create("pods", pod("a"))
    assert len(calls) == 3
    api.max_retries = 1
    calls.clear()
    server.fail.append(lambda r: httpx.Response(429, headers={"Retry-After": "0"}))
    with pytest.raises(errors.TooManyRequests) as info:
        await api.get("pods", "a")
    assert info.value.retry_after == 0


async def test_update_conflict_and_status(api: ApiClient) -> None:
    created = await api.create("pods", pod("a"))
    created["metadata"]["labels"] = {"x": "1"}
    updated = await api.update("pods", created)
    assert updated["metadata"]["labels"] == {"x": "1"}
    with pytest.raises(errors.Conflict):
        await api.update("pods", created)  # stale resourceVersion
    updated["status"] = {"phase": "Running"}
    after = await api.update_status("pods", updated)
    assert after["status"] == {"phase": "Running"}
    with pytest.raises(ValueError):
        await api.update("pods", {"metadata": {}})


async def test_update_path_has_subresource(api: ApiClient, server: FakeApiServer) -> None:
    created = await api.create("pods", pod("a", "ns1"))
    await api.update_status("pods", created)
    assert server.requests[-1].method == "PUT"
    assert server.requests[-1].url.path == "/api/v1/namespaces/ns1/pods/a/status"


@pytest.mark.parametrize("patch_type, content_type", [
    ("json", "application/json-patch+json"),
    ("merge", "application/merge-patch+json"),
    ("strategic", "application/strategic-merge-patch+json"),
    ("apply", "application/apply-patch+yaml"),
])
async def test_patch_content_types(api: ApiClient, server: FakeApiServer, patch_type: str,
                                   content_type: str) -> None:
    await api.create("pods", pod("a"))
    server.fail.append(lambda r: httpx.Response(200, json={"ok": True})
                       if r.method == "PATCH" else None)
    await api.patch("pods", "a", {"metadata": {"labels": {"p": "1"}}}, patch_type=patch_type,
                    force=True)
    request = server.requests[-1]
    assert request.headers["Content-Type"] == content_type
    assert orjson.loads(request.content) == {"metadata": {"labels": {"p": "1"}}}
    if patch_type == "apply":
        assert request.url.params["fieldManager"] == "k8py"
        assert request.url.params["force"] == "true"
    else:
        assert "force" not in request.url.params


async def test_patch_merges_and_accepts_raw_bodies(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a", app="web"))
    patched = await api.patch("pods", "a", {"metadata": {"labels": {"tier": "fe"}}})
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    await api.patch("pods", "a", b'{"metadata":{"labels":{"app":null}}}')
    assert (await api.get("pods", "a"))["metadata"]["labels"] == {"tier": "fe"}
    with pytest.raises(ValueError, match="unknown patch type"):
        await api.patch("pods", "a", {}, patch_type="yaml")


async def test_apply_sends_yaml_text_verbatim(api: ApiClient, server: FakeApiServer) -> None:
    server.fail.append(lambda r: httpx.Response(200, json={}) if r.method == "PATCH" else None)
    manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
    await api.patch("deployments", "d", manifest, "prod", patch_type="apply",
                    field_manager="kubectl", force=False, dry_run=True)
    request = server.requests[-1]
    assert request.url.path == "/apis/apps/v1/namespaces/prod/deployments/d"
    assert request.content == manifest.encode()
    assert dict(request.url.params) == {"fieldManager": "kubectl", "force": "false",
                                        "dryRun": "All"}


async def test_create_subresource_binding(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    status = await api.create("pods", binding, "default", subresource="binding")
    assert status["status"] == "Success"
    assert server.requests[-1].url.path == "/api/v1/namespaces/default/pods/a/binding"
    assert (await api.get("pods", "a"))["spec"]["nodeName"] == "n1"
    with pytest.raises(ValueError):
        await api.create("pods", {"metadata": {}}, subresource="eviction")


async def test_dry_run_create(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a"), dry_run=True)
    assert server.requests[-1].url.params["dryRun"] == "All"
    with pytest.raises(errors.NotFound):
        await api.get("pods", "a")


async def test_delete_sends_delete_options(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a"))
    deleted = await api.delete("pods", "a", propagation_policy="Foreground",
                               grace_period_seconds=0, preconditions={"uid": "u"}, dry_run=True)
    assert deleted["metadata"]["name"] == "a"
    body = orjson.loads(server.requests[-1].content)
    assert body == {"kind": "DeleteOptions", "apiVersion": "v1",
                    "propagationPolicy": "Foreground", "gracePeriodSeconds": 0,
                    "preconditions": {"uid": "u"}, "dryRun": ["All"]}
    with pytest.raises(errors.NotFound):
        await api.delete("pods", "a")


async def test_delete_collection(api: ApiClient, server: FakeApiServer) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        await api.create("pods", pod(name, app=app))
    await api.delete_collection("pods", "default", label_selector="app=x",
                                propagation_policy="Background")
    request = server.requests[-1]
    assert request.url.path == "/api/v1/namespaces/default/pods"
    assert request.url.params["labelSelector"] == "app=x"
    assert orjson.loads(request.content)["propagationPolicy"] == "Background"
    items, _ = await api.list_all("pods")
    assert [i["metadata"]["name"] for i in items] == ["c"]


async def test_list_and_list_all_pages(api: ApiClient, server: FakeApiServer) -> None:
    for i in range(7):
        await api.create("pods", pod(f"p{i}", app="web" if i % 2 else "db"))
    page = await api.list("pods", "default", limit=3, label_selector="app=web",
                          field_selector="status.phase=Running", resource_version="0")
    params = server.requests[-1].url.params
    assert params["limit"] == "3" and params["fieldSelector"] == "status.phase=Running"
    assert params["resourceVersion"] == "0"
    assert page["kind"] == "PodList" and page["metadata"].get("continue") is None
    items, rv = await api.list_all("pods", page_size=3)
    assert [i["metadata"]["name"] for i in items] == [f"p{i}" for i in range(7)]
    assert rv == str(server.rv)
    assert all(i["kind"] == "Pod" and i["apiVersion"] == "v1" for i in items)
    pages = [r for r in server.requests if r.url.params.get("limit") == "3"]
    assert [r.url.params.get("continue") for r in pages[-3:]] == [None, "3", "6"]


async def test_list_all_restarts_when_continue_expires(api: ApiClient,
                                                       server: FakeApiServer) -> None:
    for i in range(5):
        await api.create("pods", pod(f"p{i}"))
    server.page_tokens_expire = True
    items, _ = await api.list_all("pods", page_size=2)
    assert len(items) == 5
    assert "limit" not in server.requests[-1].url.params


async def test_watch_yields_events_and_sends_params(api: ApiClient,
                                                    server: FakeApiServer) -> None:
    await api.create("pods", pod("a"))
    start = str(server.rv)
    await api.create("pods", pod("b"))
    events = []
    async with contextlib.aclosing(api.watch("pods", "default", resource_version=start,
                                             timeout_seconds=60,
                                             label_selector="")) as stream:
        async for event in stream:
            events.append(event)
            if len(events) == 1:
                server.put(PODS, pod("c"))
                server.bookmark()
                server.remove(PODS, "default", "a")
                server.end_watches()
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "b"), ("ADDED", "c"), ("BOOKMARK", None), ("DELETED", "a")]
    params = server.requests[-1].url.params
    assert params["watch"] == "true" and params["allowWatchBookmarks"] == "true"
    assert params["resourceVersion"] == start and params["timeoutSeconds"] == "60"
    assert server.watchers == set()


async def test_watch_send_initial_events_params(api: ApiClient, server: FakeApiServer) -> None:
    server.fail.append(lambda r: httpx.Response(200, content=b""))
    async for _ in api.watch("nodes", send_initial_events=True, allow_bookmarks=False):
        raise AssertionError("no events expected")
    params = server.requests[-1].url.params
    assert params["sendInitialEvents"] == "true"
    assert params["resourceVersionMatch"] == "NotOlderThan"
    assert params["allowWatchBookmarks"] == "true"
    assert server.requests[-1].url.path == "/api/v1/nodes"


async def test_watch_expired_raises_expired(api: ApiClient, server: FakeApiServer) -> None:
    await api.create("pods", pod("a"))
    server.compact()
    server.put(PODS, pod("b"))
    with pytest.raises(errors.Expired, match="too old"):
        async for _ in api.watch("pods", resource_version="1"):
            pass


async def test_watch_gone_error_event_is_expired(api: ApiClient, server: FakeApiServer) -> None:
    line = orjson.dumps({"type": "ERROR", "object": errors.Gone("gone").to_status()})
    server.fail.append(lambda r: httpx.Response(200, content=line + b"\n"))
    with pytest.raises(errors.Expired):
        async for _ in api.watch("pods", resource_version="5"):
            pass


async def test_watch_other_error_event_keeps_its_class(api: ApiClient,
                                                      server: FakeApiServer) -> None:
    line = orjson.dumps({"type": "ERROR", "object": errors.InternalError("boom").to_status()})
    server.fail.append(lambda r: httpx.Response(200, content=line + b"\n"))
    with pytest.raises(errors.InternalError, match="boom"):
        async for _ in api.watch("pods"):
            pass


async def test_watch_http_error_and_garbage(api: ApiClient, server: FakeApiServer) -> None:
    server.fail.append(lambda r: httpx.Response(403, json=errors.Forbidden("no").to_status()))
    with pytest.raises(errors.Forbidden):
        async for _ in api.watch("pods"):
            pass
    server.fail[:] = [lambda r: httpx.Response(200, content=b"not json\n")]
    with pytest.raises(errors.InternalError, match="malformed"):
        async for _ in api.watch("pods"):
            pass


class BreaksAfterOneEvent(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield orjson.dumps({"type": "ADDED", "object": pod("a")}) + b"\n"
        raise httpx.ReadError("connection reset by peer")


async def test_watch_broken_stream_is_service_unavailable(api: ApiClient,
                                                          server: FakeApiServer) -> None:
    server.fail.append(lambda r: httpx.Response(200, stream=BreaksAfterOneEvent()))
    events = []
    with pytest.raises(errors.ServiceUnavailable) as info:
        async for event in api.watch("pods"):
            events.append(event)
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert [e["object"]["metadata"]["name"] for e in events] == ["a"]


def test_from_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:7777/"}}],
        "users": [{"name": "c", "user": {"token": "tok"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c", "namespace": "ns"}}],
        "current-context": "c"}))
    api = ApiClient.from_kubeconfig(str(path))
    assert api.server == "http://127.0.0.1:7777"
    assert api.namespace == "ns"
    assert api._http.headers["Authorization"] == "Bearer tok"
