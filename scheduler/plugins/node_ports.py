"""NodePorts: two pods cannot bind the same host port on one node.

A port is (hostIP, protocol, port); ``0.0.0.0`` binds every address, so it
clashes with any hostIP on the same protocol and port, as upstream's
``HostPortInfo.CheckConflict`` decides.
"""

from __future__ import annotations

from typing import Any

from machinery.podrequests import HostPort, pod_host_ports
from scheduler.framework import SUCCESS, CycleState, NodeInfo, Status

__all__ = ["NodePorts", "REASON", "conflicts"]

REASON = "node(s) didn't have free ports for the requested pod ports"
_ANY = "0.0.0.0"


def conflicts(wanted: HostPort, used: HostPort) -> bool:
    ip, protocol, port = wanted
    used_ip, used_protocol, used_port = used
    if (protocol, port) != (used_protocol, used_port):
        return False
    return ip == used_ip or _ANY in (ip, used_ip)


class NodePorts:
    name = "NodePorts"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        for port in state.once(self.name, lambda: pod_host_ports(pod)):
            if any(conflicts(port, used) for used in node.used_ports):
                return Status.unschedulable(REASON)
        return SUCCESS
