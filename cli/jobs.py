"""``k8py create job`` and ``k8py create cronjob``: the batch generators.

They build the objects ``kubectl create job|cronjob`` builds: one container
named after the object, the command after ``--``, ``restartPolicy: Never``
for a Job and (by default) ``OnFailure`` for a CronJob.  ``create job NAME
--from=cronjob/X`` instantiates a CronJob by hand as kubectl does: the
CronJob's job template, its labels and annotations plus
``cronjob.kubernetes.io/instantiate: manual``, and the CronJob as
controlling owner, so the CronJob's history and garbage collection cover it.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context
from cli.errors import CliError

__all__ = ["register", "job_for", "cronjob_for", "job_from_cronjob", "INSTANTIATE"]

Obj = dict[str, Any]
INSTANTIATE = "cronjob.kubernetes.io/instantiate"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from cli.apply import add_write_flags
    from cli.main import subcommands

    create = subcommands(subparsers, "create")
    job = create.add_parser("job", help="Create a job with the specified name")
    job.add_argument("name")
    job.add_argument("--image", default="", help="the container image to run")
    job.add_argument("--from", dest="from_", default="",
                     help="the resource to create the job from (only cronjob/NAME is supported)")
    job.add_argument("command", nargs="*", help="after --: the container command")
    add_write_flags(job)
    job.set_defaults(handler=run_create_job)

    cron = create.add_parser("cronjob", aliases=["cj"],
                             help="Create a cron job with the specified name")
    cron.add_argument("name")
    cron.add_argument("--image", required=True, help="the container image to run")
    cron.add_argument("--schedule", required=True, help="a cron schedule, e.g. '*/1 * * * *'")
    cron.add_argument("--restart", default="OnFailure", choices=("OnFailure", "Never"),
                      help="the pods' restart policy")
    cron.add_argument("command", nargs="*", help="after --: the container command")
    add_write_flags(cron)
    cron.set_defaults(handler=run_create_cronjob)


def _pod_template(name: str, image: str, command: list[str], restart: str) -> Obj:
    container: Obj = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    container["resources"] = {}
    return {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart}}


def job_for(name: str, image: str, command: list[str] | None = None) -> Obj:
    """The Job ``kubectl create job NAME --image=IMG [-- CMD...]`` builds."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": _pod_template(name, image, command or [], "Never")},
            "status": {}}


def cronjob_for(name: str, image: str, schedule: str, command: list[str] | None = None,
                restart: str = "OnFailure") -> Obj:
    """The CronJob ``kubectl create cronjob`` builds."""
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule,
                     "jobTemplate": {"metadata": {"name": name}, "spec": {
                         "template": _pod_template(name, image, command or [], restart)}}},
            "status": {}}


def job_from_cronjob(name: str, cronjob: Obj) -> Obj:
    """A Job started by hand from ``cronjob``'s template, owned by the CronJob."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"name": name,
                 "annotations": {INSTANTIATE: "manual", **(tmeta.get("annotations") or {})},
                 "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                      "name": cronjob["metadata"]["name"],
                                      "uid": cronjob["metadata"]["uid"], "controller": True}]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": dict(template.get("spec") or {}), "status": {}}


async def _source_cronjob(ctx: Context, source: str) -> Obj:
    from machinery import errors
    from machinery.resources import lookup

    kind, slash, name = source.partition("/")
    resource = lookup(kind) if slash and name else None
    if resource is None:
        raise CliError(f'from must be an existing cronjob: "{source}" is not TYPE/NAME')
    if resource.kind != "CronJob":
        raise CliError(f"from must be an existing cronjob: unknown object type {resource.kind}")
    try:
        return await ctx.client.get(resource, name, ctx.namespace)
    except errors.NotFound as exc:
        raise CliError(f'cronjobs.batch "{name}" not found') from exc


async def run_create_job(ctx: Context, args: argparse.Namespace) -> int:
    from cli.create import create_object

    if bool(args.image) == bool(args.from_):
        raise CliError("either --image or --from must be specified")
    if args.command and args.from_:
        raise CliError("cannot specify --from and command")
    if args.from_:
        obj = job_from_cronjob(args.name, await _source_cronjob(ctx, args.from_))
    else:
        obj = job_for(args.name, args.image, args.command)
    return await create_object(ctx, args, obj)


async def run_create_cronjob(ctx: Context, args: argparse.Namespace) -> int:
    from cli.create import create_object

    obj = cronjob_for(args.name, args.image, args.schedule, args.command, args.restart)
    return await create_object(ctx, args, obj)
