"""The workload verbs' pure parts: status messages, generated Deployments, undo's choice."""

from __future__ import annotations

from typing import Any

import pytest

from cli.errors import CliError
from cli.main import build_parser
from cli.rollout import _rollback_source, container_name, deployment_for
from cli.rolloutstatus import daemonset_status, deployment_status, statefulset_status

Obj = dict[str, Any]


def deploy(generation: int = 2, observed: int = 2, want: int = 3, **status: Any) -> Obj:
    return {"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": want},
            "status": {"observedGeneration": observed, **status}}


@pytest.mark.parametrize(("d", "message", "done"), [
    (deploy(observed=1), "Waiting for deployment spec update to be observed...\n", False),
    (deploy(updatedReplicas=1, replicas=3),
     'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
     "updated...\n", False),
    (deploy(updatedReplicas=3, replicas=4),
     'Waiting for deployment "web" rollout to finish: 1 old replicas are pending '
     "termination...\n", False),
    (deploy(updatedReplicas=3, replicas=3, availableReplicas=2),
     'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are '
     "available...\n", False),
    (deploy(updatedReplicas=3, replicas=3, availableReplicas=3),
     'deployment "web" successfully rolled out\n', True),
])
def test_deployment_status_messages(d: Obj, message: str, done: bool) -> None:
    assert deployment_status(d) == (message, done)


def test_deadline_exceeded_is_an_error() -> None:
    d = deploy(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}])
    with pytest.raises(CliError, match='deployment "web" exceeded its progress deadline'):
        deployment_status(d)


def test_daemonset_and_statefulset_messages() -> None:
    ds = {"metadata": {"name": "agent", "generation": 1}, "spec": {},
          "status": {"observedGeneration": 1, "desiredNumberScheduled": 2,
                     "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert daemonset_status(ds) == ('Waiting for daemon set "agent" rollout to finish: 1 of 2 '
                                    "updated pods are available...\n", False)
    sts = {"metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 1, "readyReplicas": 2, "currentReplicas": 2,
                      "updatedReplicas": 2, "currentRevision": "db-1", "updateRevision": "db-1"}}
    assert statefulset_status(sts) == (
        "statefulset rolling update complete 2 pods at revision db-1...\n", True)
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(CliError, match="only available for RollingUpdate"):
        statefulset_status(sts)


def test_create_deployment_object_matches_kubectl() -> None:
    d = deployment_for("web", ["registry.local/team/hello_app:1.0", "k8py/hello@sha256:ab"],
                       replicas=2, port=80)
    assert d["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == \
        ["hello-app", "hello"]
    assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    assert container_name("hello") == "hello"


def rs(revision: str, name: str) -> Obj:
    return {"metadata": {"name": name,
                         "annotations": {"deployment.kubernetes.io/revision": revision}}}


def test_undo_picks_the_previous_or_the_named_revision() -> None:
    rss = [rs("3", "c"), rs("1", "a"), rs("2", "b")]
    assert _rollback_source(rss, 0, "web")["metadata"]["name"] == "b"
    assert _rollback_source(rss, 1, "web")["metadata"]["name"] == "a"
    with pytest.raises(CliError, match="unable to find specified revision 7 in history"):
        _rollback_source(rss, 7, "web")
    with pytest.raises(CliError, match='no rollout history found for deployment "web"'):
        _rollback_source([rs("1", "a")], 0, "web")


def test_verbs_are_registered() -> None:
    parser = build_parser()
    for argv in (["rollout", "status", "deploy/web"], ["rollout", "undo", "deploy/web",
                 "--to-revision", "2"], ["rollout", "restart", "deploy", "web"],
                 ["scale", "deploy/web", "--replicas", "3"],
                 ["set", "image", "deploy/web", "c=img"],
                 ["create", "deployment", "web", "--image", "img"]):
        assert callable(parser.parse_args(argv).handler)
