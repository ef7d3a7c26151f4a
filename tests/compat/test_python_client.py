"""The official Kubernetes Python client (strict pydantic models) against the API server."""

from __future__ import annotations

import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.compat


@pytest.fixture
def k8s(kubeconfig):
    api_client = config.new_client_from_config(config_file=kubeconfig)
    yield api_client
    api_client.close()


def _deployment(name: str, image: str = "k8py/hello:1.0") -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="web", image=image, ports=[client.V1ContainerPort(container_port=8080)])]))))


def test_crud_and_patches(k8s, namespace):
    core = client.CoreV1Api(k8s)
    apps = client.AppsV1Api(k8s)

    created = apps.create_namespaced_deployment(namespace, _deployment("web"))
    assert created.metadata.uid and created.spec.strategy.type == "RollingUpdate"
    read = apps.read_namespaced_deployment("web", namespace)
    read.spec.replicas = 2
    replaced = apps.replace_namespaced_deployment("web", namespace, read)
    assert replaced.spec.replicas == 2 and replaced.metadata.generation == 2

    # Strategic merge patch: containers merge by name.
    patched = apps.patch_namespaced_deployment(
        "web", namespace, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "k8py/hello:2.0"}]}}}})
    containers = patched.spec.template.spec.containers
    assert [c.image for c in containers] == ["k8py/hello:2.0"] and containers[0].ports[0].container_port == 8080

    # JSON patch and merge patch through the generic API client.
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name="cfg", labels={"kind": "cfg"}), data={"a": "1"}))
    # A list body is sent as a JSON patch, a dict as a strategic merge patch.
    core.patch_namespaced_config_map("cfg", namespace, [{"op": "add", "path": "/data/b", "value": "2"}])
    merged = core.patch_namespaced_config_map("cfg", namespace, {"data": {"c": "3"}})
    assert merged.data == {"a": "1", "b": "2", "c": "3"}

    svc = core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80, target_port=8080)])))
    assert svc.spec.cluster_ip and svc.status.load_balancer is not None

    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name="cfg2", labels={"kind": "cfg"})))
    listed = core.list_namespaced_config_map(namespace, label_selector="kind=cfg")
    assert sorted(c.metadata.name for c in listed.items) == ["cfg", "cfg2"]
    core.delete_collection_namespaced_config_map(namespace, label_selector="kind=cfg")
    assert core.list_namespaced_config_map(namespace, label_selector="kind=cfg").items == []

    apps.delete_namespaced_deployment("web", namespace)
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("web", namespace)
    assert err.value.status == 404

    # Every system object decodes in the strict models.
    client.CoreV1Api(k8s).list_namespace()
    core.list_namespaced_service(namespace)


def test_watch_replays_in_order(k8s, namespace):
    core = client.CoreV1Api(k8s)
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
    core.patch_namespaced_config_map("w", namespace, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("w", namespace)
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_compacted_resource_version_is_410(k8s, namespace, etcd):
    from tests.conftest import ApiServerProcess
    compacting = ApiServerProcess(etcd.url, extra=["--etcd-compaction-interval", "0.5"])
    compacting.start()
    try:
        core = client.CoreV1Api(k8s)
        old = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="old"))).metadata.resource_version
        for i in range(3):
            core.patch_namespaced_config_map("old", namespace, {"data": {"i": str(i)}})
        time.sleep(1.6)  # the compacting server has dropped that history from etcd
        fresh = ApiServerProcess(etcd.url)
        fresh.start()
        try:
            cfg = client.Configuration()
            cfg.host = fresh.url
            with client.ApiClient(cfg) as api_client:
                w = watch.Watch()
                with pytest.raises(ApiException) as err:
                    for _ in w.stream(client.CoreV1Api(api_client).list_namespaced_config_map, namespace,
                                      resource_version=str(int(old) - 1), timeout_seconds=3):
                        pass
                assert err.value.status == 410
        finally:
            fresh.stop()
    finally:
        compacting.stop()
