"""Property-based fuzzing of the API: whatever a client sends, the answer is never a 500.

Hypothesis generates bodies (random JSON, mutated valid objects, wrong types
in known fields), content types, patch bodies and query strings against a
real API server on a real etcd. Every reply must be a success or a Status
whose HTTP code equals its ``code`` and is below 500.
"""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)

FIELDS = ["metadata", "spec", "status", "data", "kind", "apiVersion", "items", "selector", "template",
          "containers", "ports", "replicas", "name", "labels", "image", "type", "clusterIP", "finalizers"]

BASES = {
    "/api/v1/namespaces/default/configmaps": {"metadata": {"name": "fz"}, "data": {"a": "b"}},
    "/api/v1/namespaces/default/pods": {"metadata": {"name": "fz"}, "spec": {"containers": [
        {"name": "c", "image": "k8py/hello:1.0", "ports": [{"containerPort": 80}]}]}},
    "/apis/apps/v1/namespaces/default/deployments": {"metadata": {"name": "fz"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                               "spec": {"containers": [{"name": "c", "image": "x"}]}}}},
    "/api/v1/namespaces/default/services": {"metadata": {"name": "fz"}, "spec": {"ports": [{"port": 80}]}},
    "/api/v1/nodes": {"metadata": {"name": "fz"}},
    "/api/v1/namespaces": {"metadata": {"name": "fz"}},
}


def mutate(base: dict, path: list[str], value: object) -> dict:
    obj = orjson.loads(orjson.dumps(base))
    cur = obj
    for key in path[:-1]:
        nxt = cur.get(key) if isinstance(cur, dict) else None
        if not isinstance(nxt, dict):
            nxt = {}
            cur[key] = nxt
        cur = nxt
    cur[path[-1]] = value
    return obj


def check(r: httpx.Response) -> None:
    assert r.status_code < 500, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:500]}"
    if r.status_code >= 400:
        status = r.json()
        assert status["kind"] == "Status" and status["code"] == r.status_code, r.text[:500]


@pytest.fixture(scope="module")
def api(apiserver):
    with httpx.Client(base_url=apiserver.url, timeout=20) as c:
        yield c


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(path=st.sampled_from(sorted(BASES)), body=json_values)
def test_random_bodies(api, path, body):
    check(api.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}))


@SETTINGS
@given(path=st.sampled_from(sorted(BASES)), keys=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4),
       value=json_values)
def test_mutated_objects(api, path, keys, value):
    body = mutate(BASES[path], keys, value)
    r = api.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    check(r)
    if r.status_code == 201:
        name = r.json()["metadata"]["name"]
        check(api.delete(f"{path}/{name}", params={"gracePeriodSeconds": "0"}))


@SETTINGS
@given(ctype=st.sampled_from(["application/json-patch+json", "application/merge-patch+json",
                              "application/strategic-merge-patch+json", "application/apply-patch+yaml",
                              "application/xml", "text/plain"]),
       body=json_values, raw=st.binary(max_size=40))
def test_patches(api, ctype, body, raw):
    base = "/api/v1/namespaces/default/configmaps"
    api.post(base, json={"metadata": {"name": "patchme"}, "data": {"a": "b"}})
    content = raw if ctype in ("application/xml", "text/plain") else json.dumps(body).encode()
    check(api.patch(f"{base}/patchme", content=content, headers={"Content-Type": ctype},
                    params={"fieldManager": "fuzz"}))
    for sub in ("status", "scale"):
        check(api.patch(f"/apis/apps/v1/namespaces/default/deployments/nope/{sub}", content=content,
                        headers={"Content-Type": ctype}))


@SETTINGS
@given(params=st.dictionaries(st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue",
                                               "resourceVersion", "watch", "timeoutSeconds", "dryRun",
                                               "fieldValidation", "propagationPolicy", "gracePeriodSeconds",
                                               "includeObject"]),
                              st.text(max_size=15), max_size=4),
       method=st.sampled_from(["GET", "DELETE"]))
def test_query_strings(api, params, method):
    if params.get("watch") is not None:
        params["timeoutSeconds"] = "1"
    path = "/api/v1/namespaces/default/configmaps"
    check(api.request(method, path if method == "GET" else f"{path}/nothing", params=params))


@SETTINGS
@given(segments=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-./_%", min_size=1, max_size=10),
                         min_size=1, max_size=6),
       prefix=st.sampled_from(["/api/v1/", "/apis/apps/v1/", "/apis/", "/api/", "/apis/batch/v1/namespaces/"]))
def test_paths(api, segments, prefix):
    check(api.get(prefix + "/".join(segments)))
