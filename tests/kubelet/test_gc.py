"""Which dead containers housekeeping removes."""

from __future__ import annotations

from typing import Any

from kubelet.gc import dead_to_remove


def row(cid: str, created: int, state: str, container: str = "app", kind: str = "app",
        uid: str = "u1") -> dict[str, Any]:
    return {"Id": cid, "Created": created, "State": state,
            "Labels": {"io.k8py.pod-uid": uid, "io.k8py.kind": kind,
                       "io.k8py.container": container}}


def test_keeps_the_newest_and_one_dead_predecessor_per_container() -> None:
    rows = [row("a3", 3, "running"), row("a2", 2, "exited"), row("a1", 1, "exited"),
            row("a0", 0, "exited"), row("i0", 0, "exited", container="init", kind="init"),
            row("b1", 5, "exited", container="b"), row("b0", 4, "exited", container="b"),
            row("s2", 9, "running", container="", kind="sandbox"),
            row("s1", 8, "exited", container="", kind="sandbox"),
            row("x1", 2, "exited", uid="u2"), row("x0", 1, "exited", uid="u2")]
    assert sorted(dead_to_remove(rows)) == ["a0", "a1", "s1"]


def test_never_removes_running_containers() -> None:
    rows = [row("a2", 2, "running"), row("a1", 1, "running"), row("a0", 0, "exited")]
    assert dead_to_remove(rows) == []


def test_restart_counts_order_instances_created_in_the_same_second() -> None:
    rows = [row("new", 5, "running"), row("old", 5, "exited"), row("older", 5, "exited")]
    rows[0]["Labels"]["io.k8py.restart-count"] = "2"
    rows[1]["Labels"]["io.k8py.restart-count"] = "1"
    rows[2]["Labels"]["io.k8py.restart-count"] = "0"
    assert dead_to_remove(list(reversed(rows))) == ["older"]
