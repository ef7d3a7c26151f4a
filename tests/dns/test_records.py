"""The record set of the Kubernetes DNS specification, built from fixture objects."""

from __future__ import annotations

import pytest

from dns import records
from dns.records import HEADLESS_TTL, TTL, Answer, Record, Srv, build_zone, reverse_name
from tests.dns.fixtures import endpoint, endpoint_slice, pod, service


def values(answer: Answer | None, rtype: str | None = None) -> list[object]:
    assert answer is not None
    return sorted((r.data for r in answer.answer if rtype in (None, r.rtype)), key=str)


@pytest.fixture
def zone() -> records.Zone:
    objects = dict(
        services=[
            service("web", cluster_ip="10.96.0.20", ports=[
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"port": 9000, "protocol": "TCP"}]),
            service("db", cluster_ip="None", ports=[{"name": "pg", "port": 5432}]),
            service("empty", cluster_ip="None"),
            service("alias", cluster_ip=None, type="ExternalName",
                    externalName="Upstream.Example.COM."),
            service("inside", cluster_ip=None, type="ExternalName",
                    externalName="web.default.svc.cluster.local"),
            service("other", "prod", cluster_ip="10.96.0.30"),
        ],
        slices=[
            endpoint_slice("db", [endpoint("10.244.1.5", hostname="db-0"),
                                  endpoint("10.244.1.6"),
                                  endpoint("10.244.1.7", ready=False)],
                           ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
            endpoint_slice("web", [endpoint("10.244.1.9")]),
        ],
        pods=[pod("db-0", "10.244.1.5", hostname="db-0", subdomain="db"),
              pod("client", "10.244.2.3", "prod"),
              pod("host", "127.0.1.1", hostNetwork=True),
              pod("pending", None)],
    )
    return build_zone(objects["services"], objects["slices"], objects["pods"],
                      domain="cluster.local", dns_ip="10.96.0.10", serial=7)


def test_cluster_ip_service_a_record(zone: records.Zone) -> None:
    answer = zone.lookup("web.default.svc.cluster.local.", "A")
    assert answer == Answer("NOERROR", (Record("web.default.svc.cluster.local", "A", TTL,
                                                "10.96.0.20"),))
    assert values(zone.lookup("other.prod.svc.cluster.local", "A")) == ["10.96.0.30"]


def test_names_are_case_insensitive(zone: records.Zone) -> None:
    assert values(zone.lookup("WEB.Default.SVC.cluster.LOCAL.", "A")) == ["10.96.0.20"]


def test_named_ports_have_srv_records_unnamed_do_not(zone: records.Zone) -> None:
    answer = zone.lookup("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert values(answer) == [Srv(0, 100, 80, "web.default.svc.cluster.local")]
    assert answer is not None and [r.data for r in answer.additional] == ["10.96.0.20"]
    assert values(zone.lookup("_dns._udp.web.default.svc.cluster.local", "SRV")) == [
        Srv(0, 100, 53, "web.default.svc.cluster.local")]
    missing = zone.lookup("_dns._tcp.web.default.svc.cluster.local", "SRV")
    assert missing is not None and missing.rcode == "NXDOMAIN"


def test_headless_service_answers_every_ready_endpoint(zone: records.Zone) -> None:
    answer = zone.lookup("db.default.svc.cluster.local", "A")
    assert values(answer) == ["10.244.1.5", "10.244.1.6"]
    assert answer is not None and {r.ttl for r in answer.answer} == {HEADLESS_TTL}


def test_headless_hostnames_and_ip_derived_names(zone: records.Zone) -> None:
    assert values(zone.lookup("db-0.db.default.svc.cluster.local", "A")) == ["10.244.1.5"]
    assert values(zone.lookup("10-244-1-6.db.default.svc.cluster.local", "A")) == ["10.244.1.6"]
    unready = zone.lookup("10-244-1-7.db.default.svc.cluster.local", "A")
    assert unready is not None and unready.rcode == "NXDOMAIN"


def test_headless_srv_has_one_record_per_endpoint_with_glue(zone: records.Zone) -> None:
    answer = zone.lookup("_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert values(answer) == [Srv(0, 50, 5432, "10-244-1-6.db.default.svc.cluster.local"),
                              Srv(0, 50, 5432, "db-0.db.default.svc.cluster.local")]
    assert answer is not None
    assert sorted(str(r.data) for r in answer.additional) == ["10.244.1.5", "10.244.1.6"]


def test_headless_without_endpoints_is_nodata_not_nxdomain(zone: records.Zone) -> None:
    answer = zone.lookup("empty.default.svc.cluster.local", "A")
    assert answer is not None and answer.rcode == "NOERROR" and not answer.answer
    assert [r.rtype for r in answer.authority] == ["SOA"]


def test_external_name_is_a_cname_not_chased_outside(zone: records.Zone) -> None:
    for qtype in ("A", "CNAME", "AAAA"):
        answer = zone.lookup("alias.default.svc.cluster.local", qtype)
        assert answer is not None
        assert [(r.rtype, r.data) for r in answer.answer] == [
            ("CNAME", "upstream.example.com")]


def test_external_name_inside_the_cluster_is_followed(zone: records.Zone) -> None:
    answer = zone.lookup("inside.default.svc.cluster.local", "A")
    assert answer is not None
    assert [(r.rtype, r.data) for r in answer.answer] == [
        ("CNAME", "web.default.svc.cluster.local"), ("A", "10.96.0.20")]


def test_ptr_for_cluster_ips_endpoints_and_pods(zone: records.Zone) -> None:
    assert reverse_name("10.96.0.20") == "20.0.96.10.in-addr.arpa"
    assert values(zone.lookup("20.0.96.10.in-addr.arpa.", "PTR")) == [
        "web.default.svc.cluster.local"]
    assert values(zone.lookup(reverse_name("10.244.1.5"), "PTR")) == [
        "db-0.db.default.svc.cluster.local"]
    assert values(zone.lookup(reverse_name("10.244.2.3"), "PTR")) == [
        "10-244-2-3.prod.pod.cluster.local"]


def test_unknown_reverse_names_are_forwarded(zone: records.Zone) -> None:
    assert zone.lookup(reverse_name("10.244.9.9"), "PTR") is None


def test_pod_a_records_are_verified_against_namespace(zone: records.Zone) -> None:
    assert values(zone.lookup("10-244-2-3.prod.pod.cluster.local", "A")) == ["10.244.2.3"]
    wrong_namespace = zone.lookup("10-244-2-3.default.pod.cluster.local", "A")
    assert wrong_namespace is not None and wrong_namespace.rcode == "NXDOMAIN"
    host = zone.lookup("127-0-1-1.default.pod.cluster.local", "A")
    assert host is not None and host.rcode == "NXDOMAIN"


def test_unknown_cluster_names_are_nxdomain_with_soa(zone: records.Zone) -> None:
    for name in ("nope.default.svc.cluster.local",
                 "web.default.svc.cluster.local.default.svc.cluster.local",
                 "web.svc.cluster.local"):
        answer = zone.lookup(name, "A")
        assert answer is not None and answer.rcode == "NXDOMAIN", name
        [soa] = answer.authority
        assert soa.name == "cluster.local" and isinstance(soa.data, records.Soa)
        assert soa.data.serial == 7 and soa.data.minimum == TTL


def test_existing_names_with_other_types_are_nodata(zone: records.Zone) -> None:
    for name, qtype in (("web.default.svc.cluster.local", "AAAA"),
                        ("web.default.svc.cluster.local", "TXT"),
                        ("default.svc.cluster.local", "A"),  # an empty non-terminal
                        ("svc.cluster.local", "A")):
        answer = zone.lookup(name, qtype)
        assert answer is not None and answer.rcode == "NOERROR" and not answer.answer, name
        assert [r.rtype for r in answer.authority] == ["SOA"]


def test_apex_schema_version_and_nameserver(zone: records.Zone) -> None:
    assert values(zone.lookup("dns-version.cluster.local", "TXT")) == ["1.1.0"]
    assert values(zone.lookup("cluster.local", "NS")) == ["ns.dns.cluster.local"]
    assert values(zone.lookup("ns.dns.cluster.local", "A")) == ["10.96.0.10"]
    assert [r.rtype for r in zone.lookup("cluster.local", "SOA").answer] == ["SOA"]  # type: ignore[union-attr]


def test_names_outside_the_domain_are_not_ours(zone: records.Zone) -> None:
    assert zone.lookup("example.com", "A") is None
    assert zone.lookup("cluster.local.example.com", "A") is None
    assert zone.lookup("notcluster.local", "A") is None


def test_other_cluster_domain() -> None:
    zone = build_zone([service("web")], [], [], domain="k8py.test")
    assert values(zone.lookup("web.default.svc.k8py.test", "A")) == ["10.96.0.20"]
    assert zone.lookup("web.default.svc.cluster.local", "A") is None


def test_tolerate_unready_annotation_publishes_unready_endpoints() -> None:
    headless = service("db", cluster_ip="None")
    headless["metadata"]["annotations"] = {records.TOLERATE_UNREADY: "true"}
    zone = build_zone([headless], [endpoint_slice("db", [endpoint("10.244.1.7", ready=False)])],
                      [])
    assert values(zone.lookup("db.default.svc.cluster.local", "A")) == ["10.244.1.7"]


def test_slices_of_other_services_and_families_are_ignored() -> None:
    v6 = endpoint_slice("db", [endpoint("fd00::1")])
    v6["addressType"] = "IPv6"
    zone = build_zone([service("db", cluster_ip="None")],
                      [v6, endpoint_slice("web", [endpoint("10.244.1.1")])], [])
    answer = zone.lookup("db.default.svc.cluster.local", "A")
    assert answer is not None and answer.rcode == "NOERROR" and not answer.answer
