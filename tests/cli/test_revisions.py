"""``rollout history`` and ``rollout undo`` of DaemonSets and StatefulSets (ControllerRevisions)."""

from __future__ import annotations

from typing import Any

from machinery.resources import lookup
from tests.cli.fakecli import requests
from tests.machinery.client_fakeapi import FakeApiServer

Obj = dict[str, Any]


def template(image: str) -> Obj:
    return {"metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "agent", "image": image}]}}


def seed(server: FakeApiServer) -> None:
    daemonsets, revisions = lookup("daemonsets"), lookup("controllerrevisions")
    assert daemonsets is not None and revisions is not None
    server.put(daemonsets, {"apiVersion": "apps/v1", "kind": "DaemonSet",
                            "metadata": {"name": "agent", "namespace": "default", "uid": "ds-1"},
                            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                     "template": template("k8py/hello:2.0")}})
    for number, image, cause in ((1, "k8py/hello:1.0", None), (2, "k8py/hello:2.0", "bump")):
        meta: Obj = {"name": f"agent-{number}", "namespace": "default",
                     "labels": {"app": "agent", "controller-revision-hash": str(number)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                          "name": "agent", "uid": "ds-1", "controller": True}]}
        if cause:
            meta["annotations"] = {"kubernetes.io/change-cause": cause}
        server.put(revisions, {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                               "metadata": meta, "revision": number,
                               "data": {"spec": {"template": {**template(image),
                                                              "$patch": "replace"}}}})
    # Not ours: another owner's revision with matching labels.
    server.put(revisions, {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                           "metadata": {"name": "other-9", "namespace": "default",
                                        "labels": {"app": "agent"}},
                           "revision": 9, "data": {}})


async def test_history_lists_the_revisions_and_shows_one(k8py: Any, server: FakeApiServer) -> None:
    seed(server)

    listed = await k8py("rollout", "history", "daemonset/agent")
    shown = await k8py("rollout", "history", "ds", "agent", "--revision", "1")

    assert listed.code == 0, listed.err
    assert listed.out == ("daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         <none>\n"
                          "2         bump\n\n")
    assert shown.out.startswith("daemonset.apps/agent with revision #1\nPod Template:\n")
    assert "Image:\tk8py/hello:1.0" in shown.out


async def test_undo_sends_the_previous_revision_back(k8py: Any, server: FakeApiServer) -> None:
    seed(server)

    undone = await k8py("rollout", "undo", "daemonset/agent")

    assert undone.code == 0, undone.err
    assert undone.out == "daemonset.apps/agent rolled back\n"
    [(url, body)] = requests(server, "PATCH")
    assert url.endswith("/apis/apps/v1/namespaces/default/daemonsets/agent")
    assert [r.headers["content-type"] for r in server.requests if r.method == "PATCH"] == [
        "application/strategic-merge-patch+json"]
    assert body == {"spec": {"template": {**template("k8py/hello:1.0"), "$patch": "replace"}}}


async def test_undo_to_the_current_template_is_skipped(k8py: Any, server: FakeApiServer) -> None:
    seed(server)

    skipped = await k8py("rollout", "undo", "daemonset/agent", "--to-revision", "2")
    missing = await k8py("rollout", "undo", "daemonset/agent", "--to-revision", "7")

    assert skipped.out == ("daemonset.apps/agent skipped rollback (current template already "
                           "matches revision 2)\n")
    assert missing.code != 0 and "unable to find specified revision 7" in missing.err
    assert not requests(server, "PATCH")
