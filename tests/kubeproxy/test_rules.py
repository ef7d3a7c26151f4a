"""rules.py: Services + EndpointSlices -> the exact iptables-restore text for a pod namespace."""

from __future__ import annotations

from typing import Any

from kubeproxy.rules import (
    NatState,
    build_ruleset,
    endpoint_chain,
    parse_nat,
    render,
    service_chain,
)
from kubeproxy.servicemap import Backend, ServicePort, service_ports

Obj = dict[str, Any]
NS = "shop"
NODE = "node-1"


def service(name: str = "web", cluster_ip: str = "10.96.0.10", *, ports: list[Obj] | None = None,
            **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP",
                                         "targetPort": 8080}], **spec}}


def endpoint(ip: str, *, ready: bool = True, serving: bool | None = None,
             terminating: bool = False, node: str = NODE) -> Obj:
    return {"addresses": [ip], "nodeName": node,
            "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                           "terminating": terminating}}


def slice_(service_name: str = "web", *endpoints: Obj, ports: list[Obj] | None = None,
           name: str = "web-abc") -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NS,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "endpoints": list(endpoints),
            "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def text(services: list[Obj], slices: list[Obj], state: NatState = NatState(
        frozenset({"K8PY-SERVICES"}), frozenset({"OUTPUT", "PREROUTING"}))) -> str:
    return render(build_ruleset(service_ports(services, slices, NODE)), state)


def port_of(svc: Obj, name: str = "http") -> ServicePort:
    [port] = [p for p in service_ports([svc], [], NODE) if p.port_name == name]
    return port


def test_no_endpoints_writes_no_rule_so_the_reject_chain_refuses() -> None:
    assert text([service()], [slice_()]) == "*nat\n:K8PY-SERVICES - [0:0]\nCOMMIT\n"


def test_one_endpoint_dnats_without_a_random_choice() -> None:
    svc = service()
    svc_chain = service_chain(port_of(svc))
    sep = endpoint_chain(port_of(svc), Backend("10.244.0.5", 8080))
    assert text([svc], [slice_("web", endpoint("10.244.0.5"))]) == (
        "*nat\n"
        ":K8PY-SERVICES - [0:0]\n"
        f":{svc_chain} - [0:0]\n"
        f":{sep} - [0:0]\n"
        f'-A K8PY-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "shop/web:http cluster IP"'
        f" -m tcp --dport 80 -j {svc_chain}\n"
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.5:8080" -j {sep}\n'
        f"-A {sep} -p tcp -m comment --comment shop/web:http -m tcp "
        "-j DNAT --to-destination 10.244.0.5:8080\n"
        "COMMIT\n")


def test_three_endpoints_get_equal_shares() -> None:
    svc = service()
    ips = ["10.244.0.7", "10.244.0.5", "10.244.1.9"]
    port = port_of(svc)
    svc_chain = service_chain(port)
    seps = {ip: endpoint_chain(port, Backend(ip, 8080)) for ip in ips}
    a, b, c = seps["10.244.0.5"], seps["10.244.0.7"], seps["10.244.1.9"]
    out = text([svc], [slice_("web", *(endpoint(ip) for ip in ips))])
    assert out == (
        "*nat\n:K8PY-SERVICES - [0:0]\n"
        f":{svc_chain} - [0:0]\n:{a} - [0:0]\n:{b} - [0:0]\n:{c} - [0:0]\n"
        f'-A K8PY-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "shop/web:http cluster IP"'
        f" -m tcp --dport 80 -j {svc_chain}\n"
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.5:8080" '
        f"-m statistic --mode random --probability 0.33333333333 -j {a}\n"
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.7:8080" '
        f"-m statistic --mode random --probability 0.50000000000 -j {b}\n"
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.1.9:8080" -j {c}\n'
        f"-A {a} -p tcp -m comment --comment shop/web:http -m tcp "
        "-j DNAT --to-destination 10.244.0.5:8080\n"
        f"-A {b} -p tcp -m comment --comment shop/web:http -m tcp "
        "-j DNAT --to-destination 10.244.0.7:8080\n"
        f"-A {c} -p tcp -m comment --comment shop/web:http -m tcp "
        "-j DNAT --to-destination 10.244.1.9:8080\n"
        "COMMIT\n")


def test_named_target_port_resolves_through_the_slice_port_names() -> None:
    svc = service(ports=[{"name": "web", "port": 80, "protocol": "TCP", "targetPort": "http"},
                         {"name": "admin", "port": 9000, "protocol": "TCP",
                          "targetPort": "admin"}])
    slices = [slice_("web", endpoint("10.244.0.5"),
                     ports=[{"name": "admin", "port": 9443, "protocol": "TCP"},
                            {"name": "web", "port": 8081, "protocol": "TCP"}])]
    rules = build_ruleset(service_ports([svc], slices, NODE)).rules
    dnats = sorted(r.split("--to-destination ")[1] for r in rules if "DNAT" in r)
    assert dnats == ["10.244.0.5:8081", "10.244.0.5:9443"]
    web = [r for r in rules if "--dport 80 " in r]
    admin = [r for r in rules if "--dport 9000 " in r]
    assert web[0].endswith(service_chain(port_of(svc, "web")))
    assert admin[0].endswith(service_chain(port_of(svc, "admin")))


def test_slice_without_the_port_name_gives_no_endpoints() -> None:
    svc = service(ports=[{"name": "web", "port": 80, "protocol": "TCP", "targetPort": "http"}])
    slices = [slice_("web", endpoint("10.244.0.5"),
                     ports=[{"name": "other", "port": 8081, "protocol": "TCP"}])]
    assert build_ruleset(service_ports([svc], slices, NODE)).rules == ()


def test_client_ip_affinity_checks_and_sets_recent_lists() -> None:
    svc = service(sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    port = port_of(svc)
    svc_chain = service_chain(port)
    a = endpoint_chain(port, Backend("10.244.0.5", 8080))
    b = endpoint_chain(port, Backend("10.244.0.6", 8080))
    rules = build_ruleset(service_ports(
        [svc], [slice_("web", endpoint("10.244.0.5"), endpoint("10.244.0.6"))], NODE)).rules
    assert rules[1:] == (
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.5:8080" -m recent '
        f"--rcheck --seconds 600 --reap --name {a} --mask 255.255.255.255 --rsource -j {a}",
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.6:8080" -m recent '
        f"--rcheck --seconds 600 --reap --name {b} --mask 255.255.255.255 --rsource -j {b}",
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.5:8080" '
        f"-m statistic --mode random --probability 0.50000000000 -j {a}",
        f'-A {svc_chain} -m comment --comment "shop/web:http -> 10.244.0.6:8080" -j {b}',
        f"-A {a} -p tcp -m comment --comment shop/web:http -m recent --set --name {a} "
        "--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.0.5:8080",
        f"-A {b} -p tcp -m comment --comment shop/web:http -m recent --set --name {b} "
        "--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.0.6:8080",
    )


def test_client_ip_affinity_defaults_to_three_hours() -> None:
    svc = service(sessionAffinity="ClientIP")
    rules = build_ruleset(service_ports([svc], [slice_("web", endpoint("10.244.0.5"))],
                                        NODE)).rules
    assert "--rcheck --seconds 10800 --reap" in rules[1]


def test_headless_and_external_name_services_are_ignored() -> None:
    headless = service("db", "None")
    external = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "ext", "namespace": NS},
                "spec": {"type": "ExternalName", "externalName": "example.invalid",
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    slices = [slice_("db", endpoint("10.244.0.5"), name="db-1"),
              slice_("ext", endpoint("10.244.0.6"), name="ext-1")]
    assert service_ports([headless, external], slices, NODE) == []
    assert text([headless, external], slices) == "*nat\n:K8PY-SERVICES - [0:0]\nCOMMIT\n"


def test_not_ready_endpoints_are_excluded() -> None:
    svc = service()
    slices = [slice_("web", endpoint("10.244.0.5"), endpoint("10.244.0.6", ready=False))]
    rules = build_ruleset(service_ports([svc], slices, NODE)).rules
    assert [r for r in rules if "DNAT" in r] == [
        f"-A {endpoint_chain(port_of(svc), Backend('10.244.0.5', 8080))} -p tcp -m comment "
        "--comment shop/web:http -m tcp -j DNAT --to-destination 10.244.0.5:8080"]
    only_unready = [slice_("web", endpoint("10.244.0.6", ready=False))]
    assert build_ruleset(service_ports([svc], only_unready, NODE)).rules == ()


def test_terminating_endpoints_are_excluded_even_when_still_serving() -> None:
    svc = service()
    draining = endpoint("10.244.0.6", ready=False, serving=True, terminating=True)
    [port] = service_ports([svc], [slice_("web", draining)], NODE)
    assert port.cluster_backends == ()
    [port] = service_ports([svc], [slice_("web", draining, endpoint("10.244.0.5"))], NODE)
    assert port.cluster_backends == (Backend("10.244.0.5", 8080, NODE),)


def test_internal_traffic_policy_local_keeps_this_nodes_endpoints() -> None:
    svc = service(internalTrafficPolicy="Local")
    slices = [slice_("web", endpoint("10.244.0.5", node="node-2"), endpoint("10.244.0.6"))]
    [port] = service_ports([svc], slices, NODE)
    assert port.cluster_backends == (Backend("10.244.0.6", 8080, NODE),)


def test_endpoints_in_several_slices_count_once() -> None:
    svc = service()
    slices = [slice_("web", endpoint("10.244.0.5"), name="web-1"),
              slice_("web", endpoint("10.244.0.5"), endpoint("10.244.0.6"), name="web-2")]
    [port] = service_ports([svc], slices, NODE)
    assert [b.ip for b in port.cluster_backends] == ["10.244.0.5", "10.244.0.6"]


def test_udp_ports_match_udp_with_their_own_chain() -> None:
    svc = service(ports=[{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                         {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}])
    slices = [slice_("web", endpoint("10.244.0.5"),
                     ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}])]
    rules = build_ruleset(service_ports([svc], slices, NODE)).rules
    entry = [r for r in rules if r.startswith("-A K8PY-SERVICES")]
    assert any("-p udp" in r and "-m udp --dport 53" in r for r in entry)
    assert any("-p tcp" in r and "-m tcp --dport 53" in r for r in entry)
    assert service_chain(port_of(svc, "dns")) != service_chain(port_of(svc, "dns-tcp"))


def test_fresh_namespace_gets_jumps_and_stale_chains_are_deleted() -> None:
    svc = service()
    ruleset = build_ruleset(service_ports([svc], [slice_("web", endpoint("10.244.0.5"))], NODE))
    stale = "K8PY-SVC-AAAAAAAAAAAAAAAA"
    out = render(ruleset, NatState(frozenset({"K8PY-SERVICES", stale, ruleset.chains[0]}),
                                   frozenset({"PREROUTING"})))
    lines = out.splitlines()
    assert f":{stale} - [0:0]" in lines and lines[-2] == f"-X {stale}"
    assert "-I OUTPUT 1 -j K8PY-SERVICES" in lines
    assert not any("PREROUTING" in line for line in lines)


def test_parse_nat_reads_our_chains_and_jumps() -> None:
    saved = ("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n"
             ":K8PY-SERVICES - [0:0]\n:K8PY-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
             "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\n-A OUTPUT -j K8PY-SERVICES\nCOMMIT\n")
    state = parse_nat(saved)
    assert state.chains == {"K8PY-SERVICES", "K8PY-SVC-AAAAAAAAAAAAAAAA"}
    assert state.jumps == {"OUTPUT"} and state.missing_jumps == ("PREROUTING",)


def test_digest_changes_only_with_the_rules() -> None:
    svc = service()
    one = build_ruleset(service_ports([svc], [slice_("web", endpoint("10.244.0.5"))], NODE))
    same = build_ruleset(service_ports([svc], [slice_("web", endpoint("10.244.0.5"))], NODE))
    two = build_ruleset(service_ports(
        [svc], [slice_("web", endpoint("10.244.0.5"), endpoint("10.244.0.6"))], NODE))
    assert one.digest == same.digest != two.digest
