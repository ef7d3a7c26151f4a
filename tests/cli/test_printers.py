"""Table layout, colours, YAML/JSON shapes and output-format parsing."""

from __future__ import annotations

import io

import pytest

from cli.errors import CliError
from cli.printers import (RowOptions, TableWriter, custom_columns, dump_json, dump_yaml, layout,
                          parse_output, render_objects, table_rows)
from cli.tabwriter import tabwrite
from machinery.resources import lookup

DEPLOY = lookup("deploy")
assert DEPLOY is not None

TABLE = {
    "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "9"},
    "columnDefinitions": [
        {"name": "Name", "type": "string", "priority": 0},
        {"name": "Ready", "type": "string", "priority": 0},
        {"name": "Up-to-date", "type": "integer", "priority": 0},
        {"name": "Images", "type": "string", "priority": 1},
    ],
    "rows": [
        {"cells": ["web", "0/2", 0, "nginx"],
         "object": {"metadata": {"name": "web", "namespace": "default",
                                 "labels": {"app": "web", "app.kubernetes.io/part-of": "shop"}}}},
        {"cells": ["api-server", "1/1", 1, "api"],
         "object": {"metadata": {"name": "api-server", "namespace": "prod"}}},
    ],
}


def test_layout_pads_like_kubectls_tabwriter() -> None:
    assert layout(["NAME", "READY", "AGE"], [["web", "0/2", "5m"], ["a-long-name", "1/1", "10d"]]) == [
        "NAME          READY   AGE",
        "web           0/2     5m",
        "a-long-name   1/1     10d",
    ]


def test_table_rows_hide_priority_columns_unless_wide() -> None:
    headers, rows = table_rows(DEPLOY, TABLE, RowOptions())
    assert headers == ["NAME", "READY", "UP-TO-DATE"]
    assert rows[0] == ["web", "0/2", "0"]
    headers, _ = table_rows(DEPLOY, TABLE, RowOptions(wide=True))
    assert headers[-1] == "IMAGES"


def test_table_rows_namespace_kind_and_label_columns() -> None:
    options = RowOptions(with_namespace=True, with_kind=True, show_labels=True,
                         label_columns=("app", "app.kubernetes.io/part-of"))
    headers, rows = table_rows(DEPLOY, TABLE, options)
    assert headers == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "APP", "PART-OF", "LABELS"]
    assert rows[0] == ["default", "deployment.apps/web", "0/2", "0", "web", "shop",
                       "app=web,app.kubernetes.io/part-of=shop"]
    assert rows[1][-3:] == ["", "", "<none>"]


def test_colour_only_on_request() -> None:
    plain = io.StringIO()
    TableWriter(plain).write(["NAME", "STATUS"], [["p", "Running"]])
    assert "\x1b[" not in plain.getvalue()
    coloured = io.StringIO()
    TableWriter(coloured, colour=True).write(["NAME", "STATUS"], [["p", "Running"], ["q", "CrashLoopBackOff"]])
    text = coloured.getvalue()
    assert "\x1b[1m" in text and "\x1b[32mRunning" in text and "\x1b[31mCrashLoopBackOff" in text


def test_yaml_quotes_like_go() -> None:
    text = dump_yaml({"b": "1", "a": "2026-11-22T03:44:56Z", "c": "multi\nline\n", "d": "plain",
                      "e": "true", "f": [{"x": 1}], "g": {}})
    assert text == ('a: "2026-11-22T03:44:56Z"\nb: "1"\nc: |\n  multi\n  line\nd: plain\n'
                    'e: "true"\nf:\n- x: 1\ng: {}\n')


def test_json_is_sorted_with_four_spaces() -> None:
    assert dump_json({"b": 1, "a": [True]}) == '{\n    "a": [\n        true\n    ],\n    "b": 1\n}\n'


def test_several_objects_print_as_a_list() -> None:
    objs = [(DEPLOY, {"kind": "Deployment", "metadata": {"name": n}}) for n in ("a", "b")]
    assert render_objects(objs, parse_output("name"), single=False) == \
        "deployment.apps/a\ndeployment.apps/b\n"
    listed = render_objects(objs, parse_output("yaml"), single=False)
    assert listed.startswith("apiVersion: v1\nitems:\n- kind: Deployment\n")
    assert listed.endswith("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
    assert render_objects(objs[:1], parse_output("jsonpath={.metadata.name}"), single=True) == "a"


def test_custom_columns() -> None:
    headers, rows = custom_columns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,X:.nope",
                                   [{"metadata": {"name": "p"},
                                     "spec": {"containers": [{"image": "a"}, {"image": "b"}]}}])
    assert headers == ["NAME", "IMAGES", "X"]
    assert rows == [["p", "a,b", "<none>"]]


@pytest.mark.parametrize("spec", ["xml", "jsonpath", "jsonpath=", "json=x"])
def test_unknown_output_formats_are_refused(spec: str) -> None:
    with pytest.raises(CliError):
        parse_output(spec)


def test_tabwriter_blocks_match_kubectl_describe() -> None:
    text = ("Name:\tp1\nNamespace:\tdefault\nContainers:\n  c:\n    Image:\tnginx\n"
            "    Port:\t80/TCP\nQoS Class:\tBestEffort\nEvents:\t<none>\n")
    assert tabwrite(text) == (
        "Name:       p1\nNamespace:  default\nContainers:\n  c:\n"
        "    Image:  nginx\n    Port:   80/TCP\nQoS Class:  BestEffort\n"
        "Events:     <none>\n")
