"""``k8py describe`` and ``rollout history`` of StatefulSets and DaemonSets, byte for byte as kubectl.

No controllers run here: the objects, their ControllerRevisions and pods
are written straight to the API server, so both tools read the same state.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

import pytest

from tests.compat.k8pycli import ok, run

pytestmark = pytest.mark.compat

MANIFEST = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  labels: {app: db}
  annotations: {team: storage}
spec:
  replicas: 2
  serviceName: db
  selector:
    matchLabels: {app: db}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 1}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: k8py/toolbox:dev
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
      labels: {tier: disk}
    spec:
      accessModes: [ReadWriteOnce, ReadOnlyMany]
      storageClassName: standard
      resources:
        requests: {storage: 1Gi}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {disk: ssd, zone: a}
      containers:
      - name: agent
        image: k8py/hello:1.0
"""


def revision(kind: str, owner: dict[str, object], number: int, image: str) -> dict[str, object]:
    meta = owner["metadata"]
    assert isinstance(meta, dict)
    app = meta["name"]
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": f"{app}-{number}", "labels": {"app": app},
                         "annotations": {"kubernetes.io/change-cause": f"image {image}"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind,
                                              "name": app, "uid": meta["uid"],
                                              "controller": True}]},
            "revision": number,
            "data": {"spec": {"template": {"$patch": "replace",
                                           "metadata": {"labels": {"app": app}},
                                           "spec": {"containers": [{"name": app,
                                                                    "image": image}]}}}}}


def test_describe_and_history_match_kubectl(kubeconfig: str, namespace: str, tmp_path: Path,
                                            apiserver: object) -> None:
    k = lambda *a, **kw: run(kubeconfig, namespace, *a, **kw)  # noqa: E731
    manifest = tmp_path / "workloads.yaml"
    manifest.write_text(MANIFEST)
    ok(k("apply", "-f", str(manifest)))
    url = getattr(apiserver, "url")
    for kind, plural, name in (("StatefulSet", "statefulsets", "db"),
                               ("DaemonSet", "daemonsets", "agent")):
        owner = orjson.loads(ok(k("get", plural, name, "-o", "json")))
        for number, image in ((1, "k8py/hello:1.0"), (2, "k8py/hello:2.0")):
            response = httpx.post(f"{url}/apis/apps/v1/namespaces/{namespace}/"
                                  "controllerrevisions", json=revision(kind, owner, number, image))
            assert response.status_code == 201, response.text

    for args in (("describe", "sts", "db"), ("describe", "ds", "agent"),
                 ("rollout", "history", "sts/db"), ("rollout", "history", "ds/agent"),
                 ("rollout", "history", "ds/agent", "--revision", "1")):
        mine, theirs = k(*args), k(*args, tool="kubectl")
        assert (mine.returncode, mine.stdout, mine.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr), args
