"""kubectl's JSONPath dialect: paths, indexes, slices, filters, ranges, literals."""

from __future__ import annotations

import pytest

from cli.jsonpath import JsonPathError, render

POD_LIST = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web", "tier": "fe"}},
         "spec": {"replicas": 3, "containers": [{"name": "c1", "image": "nginx"},
                                                {"name": "c2", "image": "busybox"}]},
         "status": {"conditions": [{"type": "Ready", "status": "True"},
                                   {"type": "Initialized", "status": "False"}]}},
        {"metadata": {"name": "b", "labels": {"tier": "be"}},
         "spec": {"replicas": 1, "containers": [{"name": "c", "image": "redis"}]},
         "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    ],
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.kind}", "List"),
    ("{.items[*].metadata.name}", "a b"),
    ("{.items[0].metadata.name}", "a"),
    ("{.items[-1].metadata.name}", "b"),
    ("{.items[0:1].metadata.name}", "a"),
    ("{.items[0].spec.containers[*].image}", "nginx busybox"),
    ("{.items[*].spec.containers[*].name}", "c1 c2 c"),
    ('{.items[0].status.conditions[?(@.type=="Ready")].status}', "True"),
    ('{.items[?(@.metadata.labels.tier=="be")].metadata.name}', "b"),
    ("{.items[?(@.spec.replicas>2)].metadata.name}", "a"),
    ("{.items[?(@.spec.replicas<=1)].metadata.name}", "b"),
    ("{.items[0].metadata.labels['app.kubernetes.io/name']}", "web"),
    ("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "web"),
    ('{range .items[*]}{.metadata.name}{"\\n"}{end}', "a\nb\n"),
    ('{range .items[*]}{.metadata.name}{":"}{range .spec.containers[*]}{.name},{end}{"\\n"}{end}',
     "a:c1,c2,\nb:c,\n"),
    ("{..image}", "nginx busybox redis"),
    ("name={.items[1].metadata.name}!", "name=b!"),
    ("{.items[1].spec}", '{"containers":[{"image":"redis","name":"c"}],"replicas":1}'),
    ("{.items[5].metadata.name}", ""),
    ("{.missing.field}", ""),
    ("{.items[?(@.status)].metadata.name}", "a b"),
])
def test_templates(template: str, expected: str) -> None:
    assert render(template, POD_LIST) == expected


def test_values_print_as_kubectl_does() -> None:
    data = {"t": True, "n": 3, "f": 1.5, "z": None}
    assert render("{.t} {.n} {.f} {.z}", data) == "true 3 1.5 "


@pytest.mark.parametrize("template", ["{.items[*", "{range .items[*]}{.x}", "{end}",
                                      "{.items[?(@.a ~ 1)]}"])
def test_bad_templates_raise(template: str) -> None:
    with pytest.raises(JsonPathError):
        render(template, POD_LIST)
