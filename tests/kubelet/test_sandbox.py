"""Pod names, DNS configuration, the managed hosts file and the service REJECT rules."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any


from kubelet.sandbox import REJECT_CHAIN, hosts_file, install_service_reject, pod_domain, \
    pod_hostname, reject_rules, resolv_conf

Obj = dict[str, Any]


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": spec}


def test_hostname_and_subdomain() -> None:
    assert pod_hostname(pod()) == "web-0"
    assert pod_hostname(pod(hostname="db")) == "db"
    long = {"metadata": {"name": "x" * 62 + "-yz"}, "spec": {}}
    assert pod_hostname(long) == "x" * 62
    assert pod_domain(pod(subdomain="web"), "cluster.local") == "web.shop.svc.cluster.local"
    assert pod_domain(pod(), "cluster.local") == ""


def test_cluster_first_uses_the_cluster_dns(tmp_path: Path) -> None:
    no_host_file = str(tmp_path / "missing")
    assert resolv_conf(pod(dnsPolicy="ClusterFirst"), ["10.96.0.10"], "cluster.local",
                       host_resolv=no_host_file) == (
        "nameserver 10.96.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
        "options ndots:5\n")


def test_cluster_first_appends_the_node_search_domains(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example cluster.local\n"
                    "options ndots:1\n")
    text = resolv_conf(pod(), ["10.96.0.10"], "cluster.local", host_resolv=str(host))
    assert text == ("nameserver 10.96.0.10\n"
                    "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
                    "options ndots:5\n")


def test_default_is_the_node_file_and_cluster_first_falls_back_to_it(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example\n")
    expected = "nameserver 192.0.2.53\nsearch corp.example\n"
    for p in (pod(dnsPolicy="Default"), pod(dnsPolicy="ClusterFirst"), pod(hostNetwork=True)):
        cluster_dns = ["10.96.0.10"] if p["spec"].get("hostNetwork") else []
        assert resolv_conf(p, cluster_dns, "cluster.local", host_resolv=str(host)) == expected


def test_a_loopback_node_resolver_keeps_dockers_file(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\noptions edns0\n")
    assert resolv_conf(pod(dnsPolicy="Default"), [], "c.l", host_resolv=str(host)) is None
    assert resolv_conf(pod(dnsPolicy="Default"), [], "c.l",
                       host_resolv=str(tmp_path / "missing")) is None


def test_none_policy_takes_dns_config(tmp_path: Path) -> None:
    config = {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
              "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    assert resolv_conf(pod(dnsPolicy="None", dnsConfig=config), ["10.96.0.10"], "c.l") == (
        "nameserver 1.1.1.1\nsearch a.example\noptions ndots:2 edns0\n")


def test_default_policy_with_dns_config_merges_the_host_file(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("# comment\nnameserver 192.0.2.53\nsearch corp.example\noptions ndots:1\n")
    config = {"searches": ["extra.example"], "options": [{"name": "ndots", "value": "3"}]}
    assert resolv_conf(pod(dnsPolicy="Default", dnsConfig=config), [], "c.l",
                       host_resolv=str(host)) == (
        "nameserver 192.0.2.53\nsearch corp.example extra.example\noptions ndots:3\n")


def test_cluster_first_merges_dns_config() -> None:
    config = {"nameservers": ["192.0.2.1"], "options": [{"name": "ndots", "value": "1"}]}
    text = resolv_conf(pod(dnsConfig=config), ["10.96.0.10"], "cluster.local")
    assert text is not None
    assert text.splitlines()[:2] == ["nameserver 10.96.0.10", "nameserver 192.0.2.1"]
    assert text.splitlines()[-1] == "options ndots:1"


def test_hosts_file_names_the_pod_and_aliases() -> None:
    text = hosts_file(pod(subdomain="web", hostAliases=[
        {"ip": "192.0.2.9", "hostnames": ["db", "db.local"]}]), "10.0.0.5", "cluster.local")
    lines = text.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file."
    assert "127.0.0.1\tlocalhost" in lines
    assert "10.0.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0" in lines
    assert lines[-1] == "192.0.2.9\tdb\tdb.local"
    assert "10.0.0.5\tweb-0" in hosts_file(pod(), "10.0.0.5", "cluster.local").splitlines()


def test_reject_rules_are_one_restore_with_the_jump() -> None:
    rules = reject_rules("10.96.0.0/12").splitlines()
    assert rules[0] == "*filter" and rules[-1] == "COMMIT"
    assert f"-I OUTPUT 1 -j {REJECT_CHAIN}" in rules
    assert f"-A {REJECT_CHAIN} -d 10.96.0.0/12 -p tcp -j REJECT --reject-with tcp-reset" in rules


# Needs root, unshare, nsenter and iptables: scripts/bootstrap installs them and tests run as root.
async def test_reject_rules_land_in_a_fresh_network_namespace() -> None:
    holder = subprocess.Popen(["unshare", "-n", "sleep", "30"])
    try:
        for _ in range(50):  # until unshare has exec'd sleep in the new namespace
            if os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            await asyncio.sleep(0.02)
        await install_service_reject(holder.pid, "10.96.0.0/12")
        saved = subprocess.run(["nsenter", "-t", str(holder.pid), "-n", "iptables-save",
                                "-t", "filter"], capture_output=True, text=True, check=True)
        assert f"-A OUTPUT -j {REJECT_CHAIN}" in saved.stdout
        assert saved.stdout.count(f"-A {REJECT_CHAIN} -d 10.96.0.0/12") == 2
    finally:
        holder.kill()
        holder.wait()
