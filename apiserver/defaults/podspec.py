"""Defaults for PodSpecs, their containers and volumes, and for Pods themselves.

``default_pod_spec`` is what every pod template gets (Kubernetes'
``SetDefaults_PodSpec`` and the container, probe and volume defaulters). Pods
get more in ``default_pod``: request-from-limit copying, ``enableServiceLinks``
and what the admission plugins a default cluster runs would add (service
account, priority, not-ready/unreachable tolerations), plus the initial status.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from apiserver.defaults.fields import child, items, set_if_empty, set_if_none, set_if_zero
from apiserver.validation.values import as_dict, parse_quantity

__all__ = [
    "default_pod_spec",
    "default_pod_template",
    "default_pod",
    "default_pvc_spec",
    "default_host_path",
    "pull_policy",
    "qos_class",
]

_DEFAULT_MODE = 0o644
_TOLERATION_SECONDS = 300
_NODE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, ``IfNotPresent`` otherwise."""
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if not tag and not at:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(handler: dict[str, Any]) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        set_if_empty(http, "path", "/")
        set_if_empty(http, "scheme", "HTTP")


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    set_if_zero(probe, "timeoutSeconds", 1)
    set_if_zero(probe, "periodSeconds", 10)
    set_if_zero(probe, "successThreshold", 1)
    set_if_zero(probe, "failureThreshold", 3)
    _http_get(probe)


def _field_ref(holder: dict[str, Any]) -> None:
    ref = holder.get("fieldRef")
    if isinstance(ref, dict):
        set_if_empty(ref, "apiVersion", "v1")


def _container(ctr: dict[str, Any]) -> None:
    if ctr.get("imagePullPolicy") in (None, ""):
        image = ctr.get("image")
        ctr["imagePullPolicy"] = pull_policy(image if isinstance(image, str) else "")
    set_if_empty(ctr, "terminationMessagePath", "/dev/termination-log")
    set_if_empty(ctr, "terminationMessagePolicy", "File")
    child(ctr, "resources")
    for port in items(ctr.get("ports")):
        set_if_empty(port, "protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(ctr.get(probe))
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _http_get(lifecycle[hook])
    for var in items(ctr.get("env")):
        if isinstance(var.get("valueFrom"), dict):
            _field_ref(var["valueFrom"])


def default_host_path(source: Any) -> None:
    if isinstance(source, dict):
        set_if_none(source, "type", "")


def default_pvc_spec(spec: Any) -> None:
    if isinstance(spec, dict):
        set_if_none(spec, "volumeMode", "Filesystem")


_SOURCE_KEYS = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs",
    "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos",
    "csi", "ephemeral", "image",
)


def _volume(volume: dict[str, Any]) -> None:
    if not any(volume.get(k) is not None for k in _SOURCE_KEYS):
        volume["emptyDir"] = {}
    default_host_path(volume.get("hostPath"))
    for kind in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(kind)
        if isinstance(source, dict):
            set_if_none(source, "defaultMode", _DEFAULT_MODE)
    downward = volume.get("downwardAPI")
    if isinstance(downward, dict):
        for item in items(downward.get("items")):
            _field_ref(item)
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in items(projected.get("sources")):
            token = source.get("serviceAccountToken")
            if isinstance(token, dict):
                set_if_none(token, "expirationSeconds", 3600)
            if isinstance(source.get("downwardAPI"), dict):
                for item in items(source["downwardAPI"].get("items")):
                    _field_ref(item)
    iscsi = volume.get("iscsi")
    if isinstance(iscsi, dict):
        set_if_empty(iscsi, "iscsiInterface", "default")
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        default_pvc_spec(ephemeral["volumeClaimTemplate"].get("spec"))


def default_pod_spec(spec: Any) -> None:
    """``SetDefaults_PodSpec`` and the defaulters of everything a PodSpec holds."""
    if not isinstance(spec, dict):
        return
    set_if_empty(spec, "dnsPolicy", "ClusterFirst")
    set_if_empty(spec, "restartPolicy", "Always")
    set_if_none(spec, "securityContext", {})
    set_if_none(spec, "terminationGracePeriodSeconds", 30)
    set_if_empty(spec, "schedulerName", "default-scheduler")
    # The v1 conversion keeps the deprecated serviceAccount in step with serviceAccountName.
    legacy = spec.get("serviceAccount")
    if not spec.get("serviceAccountName") and isinstance(legacy, str) and legacy:
        spec["serviceAccountName"] = legacy
    if isinstance(spec.get("serviceAccountName"), str) and spec["serviceAccountName"]:
        spec["serviceAccount"] = spec["serviceAccountName"]
    for volume in items(spec.get("volumes")):
        _volume(volume)
    for attr in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in items(spec.get(attr)):
            _container(ctr)


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(child(template, "spec"))


def _requests_from_limits(ctr: dict[str, Any]) -> None:
    resources = child(ctr, "resources")
    limits = resources.get("limits")
    if not isinstance(limits, dict):
        return
    requests = child(resources, "requests")
    for name, value in limits.items():
        requests.setdefault(name, value)


def _host_network_ports(spec: dict[str, Any]) -> None:
    for attr in ("initContainers", "containers"):
        for ctr in items(spec.get(attr)):
            for port in items(ctr.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")


def _default_tolerations(spec: dict[str, Any]) -> None:
    """The DefaultTolerationSeconds admission plugin."""
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = spec["tolerations"] = []
    if not isinstance(tolerations, list):
        return
    for taint in _NODE_TAINTS:
        covered = any(t.get("key") in (taint, "", None) and t.get("effect") in ("NoExecute", "",
                                                                                None)
                      for t in items(tolerations))
        if not covered:
            tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": _TOLERATION_SECONDS})


def qos_class(spec: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from cpu and memory requests and limits."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for attr in ("initContainers", "containers"):
        for ctr in items(spec.get(attr)):
            resources = as_dict(ctr.get("resources"))
            own_limits = as_dict(resources.get("limits"))
            for bag, totals in ((as_dict(resources.get("requests")), requests),
                                (own_limits, limits)):
                for name in ("cpu", "memory"):
                    value = parse_quantity(bag.get(name))
                    if value is not None and value > 0:
                        totals[name] = totals.get(name, Fraction(0)) + value
            if not all((parse_quantity(own_limits.get(n)) or 0) > 0 for n in ("cpu", "memory")):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def default_pod(pod: dict[str, Any]) -> None:
    spec = child(pod, "spec")
    for attr in ("initContainers", "containers"):
        for ctr in items(spec.get(attr)):
            _requests_from_limits(ctr)
    set_if_none(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        _host_network_ports(spec)
    if not spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccountName"] = "default"  # the ServiceAccount admission plugin
    default_pod_spec(spec)
    if not spec.get("priorityClassName"):
        set_if_none(spec, "priority", 0)
    set_if_none(spec, "preemptionPolicy", "PreemptLowerPriority")
    _default_tolerations(spec)
    status = child(pod, "status")
    set_if_empty(status, "phase", "Pending")
    set_if_empty(status, "qosClass", qos_class(spec))
