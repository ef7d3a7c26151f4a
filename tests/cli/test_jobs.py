"""``k8py create job|cronjob``: the objects built (as kubectl builds them) and what is sent."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cli.errors import CliError
from cli.jobs import cronjob_for, job_for, job_from_cronjob
from cli.main import build_parser
from machinery.resources import by_plural
from tests.machinery.client_fakeapi import FakeApiServer

Obj = dict[str, Any]

# kubectl 1.32 --dry-run=client -o json, without its "creationTimestamp": null entries.
KUBECTL_JOB = {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "hello"},
               "spec": {"template": {"metadata": {}, "spec": {
                   "containers": [{"name": "hello", "image": "busybox",
                                   "command": ["echo", "hi"], "resources": {}}],
                   "restartPolicy": "Never"}}},
               "status": {}}
KUBECTL_CRONJOB = {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": "tick"},
                   "spec": {"schedule": "*/1 * * * *", "jobTemplate": {
                       "metadata": {"name": "tick"}, "spec": {"template": {
                           "metadata": {}, "spec": {
                               "containers": [{"name": "tick", "image": "busybox",
                                               "command": ["date"], "resources": {}}],
                               "restartPolicy": "OnFailure"}}}}},
                   "status": {}}


def test_generated_objects_match_kubectl() -> None:
    assert job_for("hello", "busybox", ["echo", "hi"]) == KUBECTL_JOB
    assert cronjob_for("tick", "busybox", "*/1 * * * *", ["date"]) == KUBECTL_CRONJOB
    never = cronjob_for("tick", "busybox", "@hourly", restart="Never")
    template = never["spec"]["jobTemplate"]["spec"]["template"]
    assert template["spec"]["restartPolicy"] == "Never"
    assert "command" not in template["spec"]["containers"][0]


def test_a_job_from_a_cronjob_is_owned_by_it() -> None:
    cronjob = {"metadata": {"name": "tick", "uid": "u-1"}, "spec": {"jobTemplate": {
        "metadata": {"labels": {"app": "tick"}, "annotations": {"team": "a"}},
        "spec": {"backoffLimit": 1, "template": {"spec": {"containers": []}}}}}}
    job = job_from_cronjob("by-hand", cronjob)
    assert job["metadata"] == {
        "name": "by-hand", "labels": {"app": "tick"},
        "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "team": "a"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                             "uid": "u-1", "controller": True}]}
    assert job["spec"] == {"backoffLimit": 1, "template": {"spec": {"containers": []}}}


def test_the_verbs_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["create", "job", "j", "--image", "img", "--", "sh", "-c", "x"])
    assert callable(args.handler) and args.command == ["sh", "-c", "x"]
    args = parser.parse_args(["create", "cronjob", "c", "--image", "img", "--schedule",
                              "*/1 * * * *"])
    assert callable(args.handler) and args.restart == "OnFailure"
    with pytest.raises(CliError):
        parser.parse_args(["create", "cronjob", "c", "--image", "img"])  # no schedule


async def test_create_job_posts_the_job(k8py: Any, server: FakeApiServer) -> None:
    result = await k8py("create", "job", "hello", "--image", "busybox", "--", "echo", "hi")
    assert result.code == 0 and result.out == "job.batch/hello created\n"
    jobs = by_plural("batch", "v1", "jobs")
    assert jobs is not None
    stored = server.table(jobs)[("default", "hello")]
    assert stored["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]


async def test_create_job_from_a_cronjob(k8py: Any, server: FakeApiServer) -> None:
    cronjobs = by_plural("batch", "v1", "cronjobs")
    assert cronjobs is not None
    server.put(cronjobs, orjson.loads(orjson.dumps(
        dict(KUBECTL_CRONJOB, metadata={"name": "tick", "namespace": "default"}))))

    result = await k8py("create", "job", "now", "--from=cronjob/tick", "-o", "json")

    assert result.code == 0
    job = orjson.loads(result.out)
    [ref] = job["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"]) == ("CronJob", "tick")
    assert job["spec"] == KUBECTL_CRONJOB["spec"]["jobTemplate"]["spec"]  # type: ignore[index]


@pytest.mark.parametrize(("argv", "message"), [
    (("create", "job", "x"), "either --image or --from must be specified"),
    (("create", "job", "x", "--image", "a", "--from", "cronjob/y"),
     "either --image or --from must be specified"),
    (("create", "job", "x", "--from", "cronjob/y", "--", "date"),
     "cannot specify --from and command"),
    (("create", "job", "x", "--from", "deployment/y"), "from must be an existing cronjob"),
    (("create", "job", "x", "--from", "cronjob/missing"), 'cronjobs.batch "missing" not found'),
])
async def test_refusals(k8py: Any, argv: tuple[str, ...], message: str) -> None:
    result = await k8py(*argv)
    assert result.code != 0 and message in result.err
