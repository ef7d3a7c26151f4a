"""Table rendering: the cells ``kubectl get`` shows for realistic objects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from apiserver.tables import TABLE_CONTENT_TYPE, printer_for, to_table
from apiserver.tables.format import format_selector, human_duration
from tests.apiserver.kubectl_harness import kubectl_harness
from machinery.errors import BadRequest
from machinery.resources import RESOURCES, lookup

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The one row's cells keyed by column name."""
    table = to_table(lookup(resource), [obj], now=NOW)  # type: ignore[arg-type]
    names = [c["name"] for c in table["columnDefinitions"]]
    cells = table["rows"][0]["cells"]
    assert len(cells) == len(names)
    return dict(zip(names, cells))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 7 * 60 + 30, "5h7m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 3599, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (780 * 86400, "2y50d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubernetes(seconds: float, expected: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == expected


def test_selector_formatting_orders_requirements_by_key() -> None:
    selector = {
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "canary"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["b"]},
            {"key": "gpu", "operator": "Exists"},
        ],
    }
    assert format_selector(selector) == "app=shop,env in (canary,prod),gpu,!legacy,tier=web,zone notin (b)"
    assert format_selector(None) == "<none>"
    assert format_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"


def _container_status(name: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0,
                      last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name, "ready": ready, "restartCount": restarts, "image": "nginx", "imageID": "",
        "state": state, "lastState": last or {}, "started": ready,
    }


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": ago(minutes=5),
                     "resourceVersion": "42", "uid": "u1"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx"},
                                                        {"name": "log", "image": "busybox"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}], **status},
    }


def test_running_pod_row() -> None:
    pod = _pod(
        conditions=[{"type": "Ready", "status": "True"}],
        containerStatuses=[
            _container_status("web", {"running": {"startedAt": ago(minutes=4)}}, ready=True, restarts=3,
                              last={"terminated": {"exitCode": 1, "finishedAt": ago(minutes=3)}}),
            _container_status("log", {"running": {"startedAt": ago(minutes=4)}}, ready=False),
        ],
    )
    cells = row("pods", pod)
    assert cells == {
        "Name": "web-0", "Ready": "1/2", "Status": "Running", "Restarts": "3 (3m ago)", "Age": "5m",
        "IP": "10.244.0.7", "Node": "node-1", "Nominated Node": "<none>", "Readiness Gates": "<none>",
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
        ({"waiting": {"reason": "CrashLoopBackOff"}}, "CrashLoopBackOff"),
        ({"waiting": {"reason": "ErrImagePull"}}, "ErrImagePull"),
        ({"waiting": {"reason": "ImagePullBackOff"}}, "ImagePullBackOff"),
        ({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "OOMKilled"),
        ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Error"),
        ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
        ({"terminated": {"exitCode": 0, "signal": 9}}, "Signal:9"),
    ],
)
def test_container_state_decides_status(state: dict[str, Any], expected: str) -> None:
    pod = _pod(containerStatuses=[_container_status("web", state)])
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    assert row("pods", pod)["Status"] == expected


def test_restarts_without_termination_time_are_a_bare_count() -> None:
    pod = _pod(containerStatuses=[_container_status("web", {"waiting": {"reason": "CrashLoopBackOff"}},
                                                    restarts=4)])
    assert row("pods", pod)["Restarts"] == "4"


def test_pending_pod_without_statuses() -> None:
    pod = _pod(phase="Pending")
    del pod["spec"]["nodeName"]
    pod["status"] = {"phase": "Pending"}
    cells = row("pods", pod)
    assert (cells["Ready"], cells["Status"], cells["Restarts"], cells["IP"], cells["Node"]) == (
        "0/2", "Pending", "0", "<none>", "<none>")


def test_completed_pod_has_completed_row_condition() -> None:
    pod = _pod(phase="Succeeded", containerStatuses=[
        _container_status("web", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
    ])
    table = to_table(lookup("pods"), [pod], now=NOW)  # type: ignore[arg-type]
    assert table["rows"][0]["cells"][2] == "Completed"
    assert table["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded",
         "message": "The pod has completed successfully."}]


def test_completed_container_beside_running_one_shows_running_or_not_ready() -> None:
    statuses = [
        _container_status("web", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
        _container_status("log", {"running": {}}, ready=True),
    ]
    assert row("pods", _pod(containerStatuses=statuses))["Status"] == "NotReady"
    ready = _pod(containerStatuses=statuses, conditions=[{"type": "Ready", "status": "True"}])
    assert row("pods", ready)["Status"] == "Running"


def test_init_container_progress() -> None:
    pod = _pod(phase="Pending", initContainerStatuses=[
        _container_status("setup", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
        _container_status("migrate", {"running": {}}),
    ])
    pod["spec"]["initContainers"] = [{"name": "setup", "image": "x"}, {"name": "migrate", "image": "y"}]
    assert row("pods", pod)["Status"] == "Init:1/2"

    pod["status"]["initContainerStatuses"][1]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert row("pods", pod)["Status"] == "Init:CrashLoopBackOff"

    pod["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert row("pods", pod)["Status"] == "Init:Error"


def test_sidecar_counts_toward_ready_containers() -> None:
    pod = _pod(
        conditions=[{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        initContainerStatuses=[_container_status("proxy", {"running": {}}, ready=True, restarts=1)],
        containerStatuses=[_container_status("web", {"running": {}}, ready=True)],
    )
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    pod["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    cells = row("pods", pod)
    assert (cells["Ready"], cells["Status"], cells["Restarts"]) == ("2/2", "Running", "1")


def test_deleting_pods() -> None:
    pod = _pod(containerStatuses=[_container_status("web", {"running": {}}, ready=True)])
    pod["metadata"]["deletionTimestamp"] = ago(seconds=3)
    assert row("pods", pod)["Status"] == "Terminating"
    pod["status"]["reason"] = "NodeLost"
    assert row("pods", pod)["Status"] == "Unknown"
    lost = _pod(reason="NodeLost")
    assert row("pods", lost)["Status"] == "NodeLost"


def test_readiness_gates_and_scheduling_gates() -> None:
    pod = _pod(conditions=[{"type": "example.com/lb", "status": "True"}])
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "other"}]
    assert row("pods", pod)["Readiness Gates"] == "1/2"
    gated = _pod(phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}])
    assert row("pods", gated)["Status"] == "SchedulingGated"


def _node(**overrides: Any) -> dict[str, Any]:
    node = {
        "metadata": {"name": "cp-1", "creationTimestamp": ago(days=2, hours=3),
                     "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp-1"}},
        "spec": {},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}, {"type": "Hostname", "address": "cp-1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "docker://20.10.24"},
        },
    }
    node.update(overrides)
    return node


def test_node_row() -> None:
    assert row("nodes", _node()) == {
        "Name": "cp-1", "Status": "Ready", "Roles": "control-plane", "Age": "2d3h", "Version": "v1.32.4",
        "Internal-IP": "172.18.0.3", "External-IP": "<none>", "OS-Image": "Debian GNU/Linux 12 (bookworm)",
        "Kernel-Version": "6.1.0-18-amd64", "Container-Runtime": "docker://20.10.24",
    }


def test_node_status_variants() -> None:
    cordoned = _node(spec={"unschedulable": True})
    cordoned["status"]["conditions"][1]["status"] = "Unknown"
    assert row("nodes", cordoned)["Status"] == "NotReady,SchedulingDisabled"
    fresh = _node(status={})
    fresh["metadata"]["labels"] = {}
    cells = row("nodes", fresh)
    assert (cells["Status"], cells["Roles"], cells["OS-Image"]) == ("Unknown", "<none>", "<unknown>")


def _service(kind: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(hours=5)},
        "spec": {"type": kind, "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                 "selector": {"app": "web"}, **spec},
        "status": {"loadBalancer": {}},
    }


def test_service_rows() -> None:
    node_port = _service("NodePort", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                            {"port": 53, "protocol": "UDP"}])
    assert row("svc", node_port) == {
        "Name": "web", "Type": "NodePort", "Cluster-IP": "10.96.0.20", "External-IP": "<none>",
        "Port(s)": "80:30080/TCP,53/UDP", "Age": "5h", "Selector": "app=web",
    }
    pending = _service("LoadBalancer", ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert row("svc", pending)["External-IP"] == "<pending>"
    pending["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.1.240"}, {"hostname": "lb.example"}]}}
    pending["spec"]["externalIPs"] = ["1.2.3.4"]
    assert row("svc", pending)["External-IP"] == "192.168.1.240,lb.example,1.2.3.4"
    headless = _service("ClusterIP", clusterIP="None", clusterIPs=["None"], selector={})
    cells = row("svc", headless)
    assert (cells["Cluster-IP"], cells["Port(s)"], cells["Selector"]) == ("None", "<none>", "<none>")
    external = _service("ExternalName", externalName="db.example.com")
    assert row("svc", external)["External-IP"] == "db.example.com"


def test_deployment_row() -> None:
    deployment = {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=3, seconds=2)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                                      {"name": "sidecar", "image": "busybox"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert row("deploy", deployment) == {
        "Name": "web", "Ready": "2/3", "Up-to-date": 3, "Available": 2, "Age": "3m2s",
        "Containers": "nginx,sidecar", "Images": "nginx:1.27,busybox", "Selector": "app=web",
    }


def test_replicaset_statefulset_daemonset_rows() -> None:
    template = {"spec": {"containers": [{"name": "c", "image": "i"}], "nodeSelector": {"disk": "ssd"}}}
    rs = {"metadata": {"name": "web-5d4f", "creationTimestamp": ago(days=1)},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert list(row("rs", rs).values()) == ["web-5d4f", 2, 2, 1, "24h", "c", "i", "app=web"]
    sts = {"metadata": {"name": "db", "creationTimestamp": ago(hours=1)},
           "spec": {"replicas": 3, "template": template}, "status": {"readyReplicas": 3}}
    assert list(row("sts", sts).values()) == ["db", "3/3", "60m", "c", "i"]
    ds = {"metadata": {"name": "agent", "creationTimestamp": ago(seconds=30)},
          "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert list(row("ds", ds).values()) == [
        "agent", 3, 3, 2, 3, 2, "disk=ssd", "30s", "c", "i", "app=agent"]


def test_job_and_cronjob_rows() -> None:
    job: dict[str, Any] = {"metadata": {"name": "pi", "creationTimestamp": ago(minutes=2)},
           "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"job-name": "pi"}},
                    "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
           "status": {"succeeded": 1, "startTime": ago(minutes=2), "completionTime": ago(seconds=80),
                      "conditions": [{"type": "Complete", "status": "True"}]}}
    cells = row("jobs", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Complete", "1/1", "40s")
    del job["spec"]["completions"]
    job["spec"]["parallelism"] = 3
    job["status"] = {"startTime": ago(minutes=1)}
    cells = row("jobs", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Running", "0/1 of 3", "60s")
    cron = {"metadata": {"name": "nightly", "creationTimestamp": ago(days=3)},
            "spec": {"schedule": "0 3 * * *", "suspend": False,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "x"}]}}}}},
            "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(hours=9)}}
    assert list(row("cj", cron).values())[:7] == ["nightly", "0 3 * * *", "<none>", "False", 1, "9h", "3d"]


def test_event_row_uses_involved_object_and_series() -> None:
    event = {"metadata": {"name": "web.17a", "namespace": "default"}, "type": "Warning", "reason": "BackOff",
             "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{web}"},
             "message": " Back-off restarting failed container \n", "source": {"component": "kubelet", "host": "n1"},
             "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(seconds=20), "count": 7}
    assert row("events", event) == {
        "Last Seen": "20s", "Type": "Warning", "Reason": "BackOff", "Object": "pod/web-0",
        "Subobject": "spec.containers{web}", "Source": "kubelet, n1",
        "Message": "Back-off restarting failed container", "First Seen": "10m", "Count": 7, "Name": "web.17a",
    }
    new_style = {"metadata": {"name": "e2"}, "type": "Normal", "reason": "Scheduled",
                 "regarding": {"kind": "Pod", "name": "web-1"}, "note": "assigned", "eventTime": ago(seconds=5),
                 "reportingController": "default-scheduler"}
    cells = row("events.events.k8s.io", new_style)
    assert (cells["Last Seen"], cells["Object"], cells["Message"], cells["Count"], cells["Source"]) == (
        "5s", "pod/web-1", "assigned", 1, "default-scheduler")


def test_config_and_network_rows() -> None:
    created = {"creationTimestamp": ago(days=10)}
    assert list(row("cm", {"metadata": {"name": "c", **created}, "data": {"a": "1"},
                           "binaryData": {"b": "AA=="}}).values()) == ["c", 2, "10d"]
    assert list(row("secrets", {"metadata": {"name": "s", **created}, "type": "Opaque",
                                "data": {"k": "dg=="}}).values()) == ["s", "Opaque", 1, "10d"]
    ep = {"metadata": {"name": "web", **created}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}],
         "ports": [{"port": 80}, {"port": 443}]}]}
    assert row("ep", ep)["Endpoints"] == "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more..."
    eps = {"metadata": {"name": "web-abc", **created}, "addressType": "IPv4",
           "ports": [{"port": 80}, {"name": "metrics"}], "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert list(row("endpointslices", eps).values()) == ["web-abc", "IPv4", "80,metrics", "10.0.0.1", "10d"]
    ing = {"metadata": {"name": "web", **created}, "spec": {
        "ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
        "rules": [{"host": "a.example"}, {}, {"host": "b.example"}, {"host": "c.example"}, {"host": "d.example"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.10"}]}}}
    assert list(row("ing", ing).values()) == [
        "web", "nginx", "a.example,b.example,c.example + 2 more...", "172.18.0.10", "80, 443", "10d"]
    sc = {"metadata": {"name": "standard", **created,
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "k8py.io/hostpath", "allowVolumeExpansion": True}
    assert list(row("sc", sc).values()) == [
        "standard (default)", "k8py.io/hostpath", "Delete", "Immediate", True, "10d"]


def test_volume_rows() -> None:
    pvc = {"metadata": {"name": "data", "creationTimestamp": ago(hours=2)},
           "spec": {"volumeName": "pv-1", "storageClassName": "standard", "volumeMode": "Filesystem"},
           "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert list(row("pvc", pvc).values()) == [
        "data", "Bound", "pv-1", "1Gi", "RWO", "standard", "<unset>", "120m", "Filesystem"]
    pv = {"metadata": {"name": "pv-1", "creationTimestamp": ago(hours=2)},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "default", "name": "data"},
                   "storageClassName": "standard"},
          "status": {"phase": "Bound"}}
    assert list(row("pv", pv).values()) == [
        "pv-1", "1Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "120m", "<unset>"]


def test_controller_revision_and_lease_rows() -> None:
    revision = {"metadata": {"name": "web-7c9", "creationTimestamp": ago(minutes=1),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                                  "uid": "u", "controller": True}]}, "revision": 2}
    assert list(row("controllerrevisions", revision).values()) == ["web-7c9", "statefulset.apps/web", 2, "60s"]
    lease = {"metadata": {"name": "node-1", "creationTimestamp": ago(minutes=1)}, "spec": {"holderIdentity": "node-1"}}
    assert list(row("leases", lease).values()) == ["node-1", "node-1", "60s"]


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.qualified)
def test_every_resource_renders_typed_cells(resource: Any) -> None:
    printer = printer_for(resource)
    columns = [c.to_dict() for c in printer.columns]
    assert sum(1 for c in columns if c["format"] == "name") == 1
    assert all(c["description"] for c in columns)
    table = to_table(resource, [{"metadata": {"name": "x", "creationTimestamp": ago(seconds=9)}}], now=NOW)
    cells = table["rows"][0]["cells"]
    assert len(cells) == len(columns)
    for column, cell in zip(columns, cells):
        assert isinstance(cell, _JSON_TYPES[column["type"]]), (column["name"], cell)
        if column["type"] == "integer":
            assert not isinstance(cell, bool)


def test_table_envelope_and_include_object() -> None:
    pod = _pod()
    pods = lookup("pods")
    assert pods is not None
    table = to_table(pods, [pod], list_meta={"resourceVersion": "77", "continue": "tok", "selfLink": "x"}, now=NOW)
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert table["metadata"] == {"resourceVersion": "77", "continue": "tok"}
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]}
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert "object" not in to_table(pods, [pod], include_object="None", now=NOW)["rows"][0]
    full = to_table(pods, [{"metadata": {"name": "bare"}}], include_object="Object", now=NOW)["rows"][0]["object"]
    assert (full["kind"], full["apiVersion"]) == ("Pod", "v1")
    with pytest.raises(BadRequest):
        to_table(pods, [pod], include_object="Everything")
    assert to_table(pods, [], now=NOW)["rows"] == []
    watch_event = to_table(pods, [pod], headers=False, now=NOW)
    assert watch_event["columnDefinitions"] == [] and len(watch_event["rows"][0]["cells"]) == 9
    assert TABLE_CONTENT_TYPE == "application/json;as=Table;v=v1;g=meta.k8s.io"


def test_default_now_is_current_time() -> None:
    pod = _pod()
    pod["metadata"]["creationTimestamp"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    pods = lookup("pods")
    assert pods is not None
    age = to_table(pods, [pod])["rows"][0]["cells"][4]
    assert age in ("0s", "1s", "2s")


@pytest.mark.compat
def test_kubectl_prints_the_tables(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    pod = _pod(containerStatuses=[_container_status("web", {"running": {}}, ready=True)])
    pod["metadata"]["creationTimestamp"] = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    node = _node()
    node["metadata"]["creationTimestamp"] = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = {"/api/v1/namespaces/default/pods": ("pods", [pod]), "/api/v1/nodes": ("nodes", [node])}

    def on_get(path: str, query: str) -> tuple[Any, str] | None:
        if path not in listed:
            return None
        resource, objects = listed[path]
        return to_table(lookup(resource), objects, list_meta={"resourceVersion": "9"}), TABLE_CONTENT_TYPE  # type: ignore[arg-type]

    with kubectl_harness(tmp_path) as harness:
        harness.on_get = on_get
        pods = harness.kubectl("get", "pods", "-o", "wide")
        nodes = harness.kubectl("get", "nodes")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split("\n")[0].split() == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert pods.stdout.split("\n")[1].split() == [
        "web-0", "1/1", "Running", "0", "3h", "10.244.0.7", "node-1", "<none>", "<none>"]
    assert nodes.stdout.split("\n")[1].split() == ["cp-1", "Ready", "control-plane", "3d", "v1.32.4"]


def test_exported_members_exist() -> None:
    import apiserver.tables as package
    from apiserver.tables import columns, core, format, network, pods, storage, workloads

    for module in (package, columns, core, format, network, pods, storage, workloads):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
