"""ClusterIP and NodePort allocation for Services.

Each allocated IP or port is an etcd key (``/registry/ranges/serviceips/<ip>``,
``/registry/ranges/servicenodeports/<port>``) created in the same transaction
as the Service, with a "must not exist" guard. Two API servers racing for the
same value therefore cannot both win: the loser's transaction fails and it
picks again. Deleting the Service deletes its keys in the same transaction.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from machinery import errors

__all__ = ["ServiceAllocator", "Reservation"]

Obj = dict[str, Any]
IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"


class Reservation:
    """Keys to create and delete alongside one Service write."""

    def __init__(self) -> None:
        self.creates: dict[str, bytes] = {}
        self.deletes: list[str] = []


def _uses_node_ports(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _invalid(name: str, field: str, message: str) -> errors.Invalid:
    return errors.Invalid(
        f'Service "{name}" is invalid: {field}: {message}', name=name, kind="Service",
        causes=[{"reason": "FieldValueInvalid", "message": message, "field": field}])


class ServiceAllocator:
    def __init__(self, service_cidr: str, node_port_range: str = "30000-32767") -> None:
        self.network = ipaddress.ip_network(service_cidr, strict=False)
        lo, _, hi = node_port_range.partition("-")
        self.port_lo, self.port_hi = int(lo), int(hi or lo)
        # The first address is the kubernetes Service's, as in Kubernetes.
        self.first_ip = str(self.network.network_address + 1)

    def in_range(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def _random_ip(self, taken: set[str]) -> str:
        size = self.network.num_addresses
        for _ in range(64):
            offset = random.randrange(2, max(3, size - 1))
            ip = str(self.network.network_address + offset)
            if ip not in taken:
                return ip
        raise errors.InternalError("the service IP range is full")

    def _random_port(self, taken: set[int]) -> int:
        for _ in range(64):
            port = random.randint(self.port_lo, self.port_hi)
            if port not in taken:
                return port
        raise errors.InternalError("the node port range is full")

    def reserve(self, svc: Obj, old: Obj | None, taken_ips: set[str], taken_ports: set[int]) -> Reservation:
        """Fill in clusterIP(s) and nodePorts of ``svc`` and say which keys that claims."""
        res = Reservation()
        name = (svc.get("metadata") or {}).get("name", "")
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        stype = spec.get("type", "ClusterIP")

        # Cluster IP.
        old_ip = old_spec.get("clusterIP") or ""
        ip = spec.get("clusterIP") or ""
        if stype == "ExternalName":
            if old_ip and old_ip != "None":
                res.deletes.append(IP_PREFIX + old_ip)
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        elif ip == "None":
            spec["clusterIPs"] = ["None"]
        else:
            if not ip and old_ip and old_ip != "None":
                ip = old_ip
            if ip and ip != old_ip:
                if not self.in_range(ip):
                    raise _invalid(name, "spec.clusterIPs", f'Invalid value: ["{ip}"]: failed to '
                                   f'allocate IP {ip}: the provided IP ({ip}) is not in the valid '
                                   f'range. The range of valid IPs is {self.network}')
                if ip in taken_ips:
                    raise _invalid(name, "spec.clusterIPs", f'Invalid value: ["{ip}"]: failed to '
                                   f'allocate IP {ip}: provided IP is already allocated')
                res.creates[IP_PREFIX + ip] = name.encode()
            elif not ip:
                ip = self._random_ip(taken_ips)
                res.creates[IP_PREFIX + ip] = name.encode()
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        if stype != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

        # Node ports.
        old_ports = {int(p["nodePort"]) for p in old_spec.get("ports") or []
                     if isinstance(p, dict) and p.get("nodePort")}
        keep: set[int] = set()
        if _uses_node_ports(spec):
            in_use = set(taken_ports)
            for i, port in enumerate(spec.get("ports") or []):
                if not isinstance(port, dict):
                    continue
                want = port.get("nodePort")
                if want:
                    want = int(want)
                    if not self.port_lo <= want <= self.port_hi:
                        raise _invalid(name, f"spec.ports[{i}].nodePort",
                                       f"Invalid value: {want}: provided port is not in the valid "
                                       f"range. The range of valid ports is {self.port_lo}-{self.port_hi}")
                    if want in old_ports:
                        keep.add(want)
                        continue
                    if want in in_use or want in keep:
                        raise _invalid(name, f"spec.ports[{i}].nodePort",
                                       f"Invalid value: {want}: provided port is already allocated")
                else:
                    reuse = sorted(old_ports - keep)
                    want = reuse[0] if reuse else self._random_port(in_use | keep)
                    port["nodePort"] = want
                    if want in old_ports:
                        keep.add(want)
                        continue
                res.creates[PORT_PREFIX + str(want)] = name.encode()
                in_use.add(want)
                keep.add(want)
        else:
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.pop("nodePort", None)
        res.deletes.extend(PORT_PREFIX + str(p) for p in old_ports - keep)
        if old_ip and old_ip != "None" and spec.get("clusterIP") != old_ip:
            res.deletes.append(IP_PREFIX + old_ip)
        return res

    @staticmethod
    def release(svc: Obj) -> list[str]:
        spec = svc.get("spec") or {}
        keys = [PORT_PREFIX + str(p["nodePort"]) for p in spec.get("ports") or []
                if isinstance(p, dict) and p.get("nodePort")]
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            keys.append(IP_PREFIX + ip)
        return keys
