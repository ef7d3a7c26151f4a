"""Routing tables from Ingresses: the path and host rules of networking.k8s.io/v1."""

from __future__ import annotations

from typing import Any

import pytest

from ingress.routes import (
    Endpoint, RouteTable, build_table, owned_ingresses, prefix_matches, split_host,
)
from tests.ingress.builders import (
    backend, endpoint_slice, ingress, ingress_class, path, rule, service,
)

SERVICES = [service(name, ("web", 80)) for name in ("a", "b", "c", "d", "root")]
SLICES = [endpoint_slice(name, 8080, f"10.244.0.{i}")
          for i, name in enumerate(("a", "b", "c", "d", "root"), start=1)]


def table(*ingresses: dict[str, Any], classes: list[dict[str, Any]] | None = None,
          services: list[dict[str, Any]] | None = None,
          slices: list[dict[str, Any]] | None = None) -> RouteTable:
    return build_table(ingresses, [ingress_class()] if classes is None else classes,
                       SERVICES if services is None else services,
                       SLICES if slices is None else slices)


def target(routes: RouteTable, host: str, request: str) -> str | None:
    found = routes.match(host, request)
    return None if found is None else found.backend.service


# The table of examples in the Kubernetes Ingress documentation, "Examples".
@pytest.mark.parametrize("kind, rule_path, request_path, matches", [
    ("Prefix", "/", "/anything/at/all", True),
    ("Exact", "/foo", "/foo", True),
    ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False),
    ("Exact", "/foo/", "/foo", False),
    ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True),
    ("Prefix", "/foo/", "/foo", True),
    ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False),
    ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
    ("ImplementationSpecific", "/aaa", "/aaa/ccc", True),
    ("ImplementationSpecific", "/aaa", "/aaaccc", False),
])
def test_path_matching_examples(kind: str, rule_path: str, request_path: str,
                                matches: bool) -> None:
    routes = table(ingress("one", [rule(None, path(rule_path, "a", kind=kind))]))
    assert (target(routes, "any.host", request_path) == "a") is matches


def test_longest_prefix_wins() -> None:
    routes = table(ingress("one", [rule(None, path("/", "root"), path("/aaa", "a"),
                                        path("/aaa/bbb", "b"))]))
    assert target(routes, "h", "/aaa/ccc") == "a"
    assert target(routes, "h", "/aaa/bbb") == "b"
    assert target(routes, "h", "/aaa/bbb/x?q=1") == "b"
    assert target(routes, "h", "/ccc") == "root"


def test_exact_beats_prefix_of_the_same_length() -> None:
    routes = table(ingress("one", [rule(None, path("/foo", "a"),
                                        path("/foo", "b", kind="Exact"))]))
    assert target(routes, "h", "/foo") == "b"
    assert target(routes, "h", "/foo/bar") == "a"


def test_no_match_without_default_backend_is_none() -> None:
    routes = table(ingress("one", [rule(None, path("/aaa", "a"))]))
    assert routes.match("h", "/ccc") is None


def test_default_backend_catches_what_no_rule_does() -> None:
    routes = table(ingress("one", [rule("a.example.com", path("/api", "a"))],
                           default_backend=backend("d", "web")))
    assert target(routes, "a.example.com", "/api/v1") == "a"
    assert target(routes, "a.example.com", "/other") == "d"
    assert target(routes, "unknown.example.com", "/") == "d"
    default = routes.match("x", "/")
    assert default is not None and default.path_type == "Default"
    assert default.backend.endpoints == (Endpoint("10.244.0.4", 8080),)


def test_hosts_exact_wildcard_and_catch_all() -> None:
    routes = table(ingress("one", [
        rule("foo.example.com", path("/", "a")),
        rule("*.example.com", path("/", "b")),
        rule(None, path("/", "c")),
    ]))
    assert target(routes, "foo.example.com", "/") == "a"
    assert target(routes, "FOO.Example.com:8080", "/") == "a"
    assert target(routes, "bar.example.com", "/") == "b"
    assert target(routes, "a.bar.example.com", "/") == "c"  # wildcards cover one label only
    assert target(routes, "example.com", "/") == "c"
    assert target(routes, "127.0.0.1:8080", "/") == "c"


def test_the_most_specific_host_decides_even_without_a_matching_path() -> None:
    routes = table(ingress("one", [rule("foo.example.com", path("/api", "a")),
                                   rule(None, path("/", "c"))]))
    assert routes.match("foo.example.com", "/web") is None
    assert target(routes, "bar.example.com", "/web") == "c"


def test_rules_merge_across_ingresses_and_the_oldest_wins_a_tie() -> None:
    older = ingress("older", [rule("h.test", path("/x", "a"))], created="2024-01-01T00:00:00Z")
    newer = ingress("newer", [rule("h.test", path("/x", "b"), path("/y", "c"))],
                    created="2024-06-01T00:00:00Z")
    routes = table(newer, older)
    assert target(routes, "h.test", "/x") == "a"
    assert target(routes, "h.test", "/y") == "c"


def test_class_selection() -> None:
    ours = ingress_class("k8py", default=False)
    theirs = ingress_class("nginx", controller="k8s.io/ingress-nginx")
    named = ingress("named", [rule("a.test", path("/", "a"))], class_name="k8py")
    foreign = ingress("foreign", [rule("b.test", path("/", "b"))], class_name="nginx")
    unclassed = ingress("unclassed", [rule("c.test", path("/", "c"))])
    legacy = ingress("legacy", [rule("d.test", path("/", "d"))])
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "k8py"}
    everything = [named, foreign, unclassed, legacy]
    assert [i["metadata"]["name"] for i in owned_ingresses(everything, [ours, theirs])] == [
        "legacy", "named"]
    as_default = owned_ingresses(everything, [ingress_class("k8py", default=True), theirs])
    assert sorted(i["metadata"]["name"] for i in as_default) == ["legacy", "named",
                                                                  "unclassed"]
    deleting = ingress("deleting", [rule(None, path("/", "a"))])
    deleting["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z"
    assert owned_ingresses([deleting], [ingress_class()]) == []


def test_backend_port_by_name_or_number_through_the_service() -> None:
    services = [service("multi", ("web", 80), ("admin", 9000))]
    slices = [endpoint_slice("multi", 8080, "10.244.0.1", port_name="web"),
              endpoint_slice("multi", 9090, "10.244.0.1", port_name="admin")]
    slices[1]["metadata"]["name"] = "multi-y"
    routes = table(ingress("one", [rule(None, path("/web", "multi", 80),
                                        path("/admin", "multi", "admin"))]),
                   services=services, slices=slices)
    web, admin = routes.match("h", "/web"), routes.match("h", "/admin")
    assert web is not None and web.backend.endpoints == (Endpoint("10.244.0.1", 8080),)
    assert admin is not None and admin.backend.endpoints == (Endpoint("10.244.0.1", 9090),)


@pytest.mark.parametrize("services, slices, problem", [
    ([], [], "service not found"),
    ([service("a", ("web", 80))], [], "no ready endpoints"),
    ([service("a", ("other", 81))], [], "service has no such port"),
    ([service("a", ("web", 80), type="ExternalName", externalName="x.test")], [],
     "ExternalName services are not proxied"),
    ([service("a", ("web", 80))], [endpoint_slice("a", 8080, unready=("10.244.0.9",))],
     "no ready endpoints"),
])
def test_unresolvable_backends_keep_a_reason(services: list[dict[str, Any]],
                                             slices: list[dict[str, Any]], problem: str) -> None:
    routes = table(ingress("one", [rule(None, path("/", "a"))]), services=services,
                   slices=slices)
    found = routes.match("h", "/")
    assert found is not None and found.backend.endpoints == () and found.backend.problem == problem


def test_only_ready_endpoints_serve() -> None:
    slices = [endpoint_slice("a", 8080, "10.244.0.1", "10.244.0.2", unready=("10.244.0.3",))]
    found = table(ingress("one", [rule(None, path("/", "a"))]), slices=slices).match("h", "/")
    assert found is not None
    assert [str(e) for e in found.backend.endpoints] == ["10.244.0.1:8080", "10.244.0.2:8080"]


def test_backends_resolve_in_the_ingress_namespace() -> None:
    elsewhere = ingress("one", [rule(None, path("/", "a"))], namespace="prod")
    found = table(elsewhere).match("h", "/")
    assert found is not None and found.backend.problem == "service not found"


def test_helpers() -> None:
    assert prefix_matches("/", "/") and prefix_matches("/a", "/a//b")
    assert not prefix_matches("/a/b", "/a")
    assert split_host("Example.COM.:80") == "example.com"
    assert split_host("[::1]:8080") == "::1"
