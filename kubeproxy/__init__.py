"""kube-proxy for k8py: the per-node agent that makes Services reachable.

ClusterIPs work through NAT rules written into every pod's network namespace
on the node; NodePorts and LoadBalancer addresses through userspace listeners
on the node's own (loopback) addresses.  Nothing here ever routes a packet
off the machine.
"""
