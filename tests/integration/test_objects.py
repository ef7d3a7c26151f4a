"""Object semantics of the API server on a real etcd: CRUD, concurrency, deletion, subresources."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@pytest.fixture
def api(apiserver):
    with httpx.Client(base_url=apiserver.url, timeout=10) as c:
        yield c


def test_system_namespaces_exist(api):
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    ns = api.get("/api/v1/namespaces/default").json()
    assert ns["status"]["phase"] == "Active"


def test_create_get_update_delete(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    r = api.post(base, json=cm("a", x="1"))
    assert r.status_code == 201, r.text
    created = r.json()
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert meta["namespace"] == namespace

    got = api.get(f"{base}/a").json()
    assert got["data"] == {"x": "1"}
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]

    got["data"]["x"] = "2"
    r = api.put(f"{base}/a", json=got)
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

    # A stale resourceVersion is a Conflict, worded as Kubernetes words it.
    r = api.put(f"{base}/a", json=got)
    assert r.status_code == 409
    status = r.json()
    assert status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]

    r = api.post(base, json=cm("a"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'configmaps "a" already exists'

    assert api.delete(f"{base}/a").status_code == 200
    r = api.get(f"{base}/a")
    assert r.status_code == 404 and r.json()["message"] == 'configmaps "a" not found'


def test_generate_name_and_namespace_must_exist(api, namespace):
    r = api.post(f"/api/v1/namespaces/{namespace}/configmaps",
                 json={"metadata": {"generateName": "gen-"}, "data": {}})
    assert r.status_code == 201
    name = r.json()["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5
    r = api.post("/api/v1/namespaces/nope-nope/configmaps", json=cm("x"))
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "nope-nope" not found'


def test_generation_bumps_only_on_spec_change(api, namespace):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "k8py/hello:1.0"}]}}}}
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    created = api.post(base, json=dep).json()
    assert created["metadata"]["generation"] == 1
    # Defaults as Kubernetes applies them.
    assert created["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    r = api.patch(f"{base}/d", json={"metadata": {"labels": {"x": "y"}}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 1
    r = api.patch(f"{base}/d", json={"spec": {"replicas": 3}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 2
    # Status written through the main resource is ignored; through /status it sticks.
    body = r.json()
    body["status"] = {"replicas": 7}
    assert "replicas" not in (api.put(f"{base}/d", json=body).json().get("status") or {})
    body = api.get(f"{base}/d").json()
    body["status"] = {"replicas": 7, "observedGeneration": 2}
    r = api.put(f"{base}/d/status", json=body)
    assert r.status_code == 200 and r.json()["status"]["replicas"] == 7
    assert r.json()["metadata"]["generation"] == 2
    scale = api.get(f"{base}/d/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    assert scale["status"] == {"replicas": 7, "selector": "app=d"}
    r = api.patch(f"{base}/d/scale", json={"spec": {"replicas": 5}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 5
    assert api.get(f"{base}/d").json()["spec"]["replicas"] == 5


def test_finalizers_hold_deletion(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = cm("f")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api.post(base, json=body)
    r = api.delete(f"{base}/f")
    assert r.status_code == 200
    held = api.get(f"{base}/f").json()
    assert held["metadata"]["deletionTimestamp"]
    r = api.patch(f"{base}/f", json={"metadata": {"finalizers": None}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert api.get(f"{base}/f").status_code == 404


def test_dry_run_writes_nothing(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    r = api.post(base, params={"dryRun": "All"}, json=cm("dry"))
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    assert api.get(f"{base}/dry").status_code == 404


def test_selectors_and_paging(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(7):
        body = cm(f"p{i}")
        body["metadata"]["labels"] = {"tier": "a" if i % 2 else "b", "i": str(i)}
        api.post(base, json=body)
    names = [o["metadata"]["name"] for o in api.get(base, params={"labelSelector": "tier=a"}).json()["items"]]
    assert names == ["p1", "p3", "p5"]
    names = [o["metadata"]["name"] for o in
             api.get(base, params={"labelSelector": "i in (1,2),tier!=a"}).json()["items"]]
    assert names == ["p2"]
    names = [o["metadata"]["name"] for o in api.get(base, params={"fieldSelector": "metadata.name=p4"}).json()["items"]]
    assert names == ["p4"]
    assert api.get(base, params={"fieldSelector": "spec.nope=1"}).status_code == 400
    seen, token = [], None
    while True:
        params = {"limit": "3"}
        if token:
            params["continue"] = token
        page = api.get(base, params=params).json()
        seen += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)]
    cached = api.get(base, params={"resourceVersion": "0"}).json()
    assert len(cached["items"]) == 7


def test_pod_binding_and_graceful_delete(api, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "k8py/hello:1.0"}]}}
    base = f"/api/v1/namespaces/{namespace}/pods"
    created = api.post(base, json=pod).json()
    assert created["status"]["phase"] == "Pending"
    assert created["spec"]["tolerations"][0]["tolerationSeconds"] == 300
    r = api.post(f"{base}/p/binding", json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                                              "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}})
    assert r.status_code == 201, r.text
    assert api.get(f"{base}/p").json()["spec"]["nodeName"] == "n1"
    r = api.post(f"{base}/p/binding", json={"target": {"name": "n2"}})
    assert r.status_code == 409
    # A bound pod is deleted gracefully: the kubelet finishes the job with grace 0.
    r = api.delete(f"{base}/p")
    assert r.json()["metadata"]["deletionGracePeriodSeconds"] == 30
    assert api.get(f"{base}/p").status_code == 200
    assert api.delete(f"{base}/p", params={"gracePeriodSeconds": "0"}).status_code == 200
    assert api.get(f"{base}/p").status_code == 404


def test_namespace_deletion_waits_for_finalize(api):
    api.post("/api/v1/namespaces", json={"metadata": {"name": "doomed"}})
    r = api.delete("/api/v1/namespaces/doomed")
    assert r.status_code == 200
    ns = api.get("/api/v1/namespaces/doomed").json()
    assert ns["status"]["phase"] == "Terminating"
    r = api.post("/api/v1/namespaces/doomed/configmaps", json=cm("late"))
    assert r.status_code == 403
    ns["spec"]["finalizers"] = []
    r = api.put("/api/v1/namespaces/doomed/finalize", json=ns)
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/namespaces/doomed").status_code == 404


def test_service_allocation(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/services"
    svc = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "selector": {"a": "b"},
                                               "ports": [{"port": 80}]}}
    created = api.post(base, json=svc).json()
    ip = created["spec"]["clusterIP"]
    assert ip.startswith("10.") and created["spec"]["clusterIPs"] == [ip]
    port = created["spec"]["ports"][0]
    assert port["targetPort"] == 80 and port["protocol"] == "TCP" and 30000 <= port["nodePort"] <= 32767
    taken = {"metadata": {"name": "t"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}
    r = api.post(base, json=taken)
    assert r.status_code == 422 and "already allocated" in r.json()["message"]
    outside = {"metadata": {"name": "u"}, "spec": {"clusterIP": "192.168.1.1", "ports": [{"port": 80}]}}
    assert api.post(base, json=outside).status_code == 422
    api.delete(f"{base}/s")
    assert api.post(base, json=taken).status_code == 201


def test_bad_input_gets_status(api, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    r = api.post(base, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    r = api.post(base, content=b"a: [1,", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400
    r = api.post(base, content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = api.post(base, content=b"{" + b" " * (4 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = api.post(base, json={"metadata": {"name": "Bad_Name"}})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    r = api.post(base, params={"fieldValidation": "Strict"}, json={"metadata": {"name": "ok"}, "bogus": 1})
    assert r.status_code == 400 and 'unknown field "bogus"' in r.json()["message"]
    r = api.get("/apis/nope/v1/things")
    assert r.status_code == 404 and r.json()["message"] == "the server could not find the requested resource"
    r = api.request("PUT", base)
    assert r.status_code == 405
    r = api.patch(f"{base}/x", content=b"{}", headers={"Content-Type": "application/bogus"})
    assert r.status_code == 415


def test_kubernetes_service_points_at_the_api(api):
    svc = api.get("/api/v1/namespaces/default/services/kubernetes").json()
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    slice_ = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").json()
    assert slice_["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"


def test_claim_without_class_gets_the_default(api, namespace):
    api.post("/apis/storage.k8s.io/v1/storageclasses", json={
        "metadata": {"name": "fast-default", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "k8py.io/local-path"})
    try:
        claim = {"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Mi"}}}}
        r = api.post(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", json=claim)
        assert r.status_code == 201, r.text
        assert r.json()["spec"]["storageClassName"] == "fast-default"
        assert "kubernetes.io/pvc-protection" in r.json()["metadata"]["finalizers"]
        explicit = {**claim, "metadata": {"name": "d"}, "spec": {**claim["spec"], "storageClassName": ""}}
        r = api.post(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", json=explicit)
        assert r.json()["spec"]["storageClassName"] == ""
    finally:
        api.delete("/apis/storage.k8s.io/v1/storageclasses/fast-default")
