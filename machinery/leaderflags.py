"""The ``--leader-elect*`` flags and the elector they describe.

The scheduler and the controller manager are replicated the same way: each
replica campaigns for a Lease, and only the holder acts.  Both take
kube-scheduler's and kube-controller-manager's flag set for it (durations in
Go syntax, ``15s`` or ``1m``, or bare seconds), differing only in the Lease's
default name.  Declaring the flags and building the ``LeaderElector`` from
them in one place keeps the two ``__main__`` modules to wiring.
"""

from __future__ import annotations

import argparse
import logging

from machinery.client import ApiClient
from machinery.component import flag, parse_duration
from machinery.leaderelection import LeaderElector

__all__ = ["add_leader_election_flags", "elector_from_args"]


def add_leader_election_flags(parser: argparse.ArgumentParser, *, resource_name: str) -> None:
    """kube-scheduler's leader election flags; ``resource_name`` is the Lease's default name."""
    flag(parser, "--leader-elect", env="K8PY_LEADER_ELECT", default=True, type=bool,
         help="win a Lease before acting, so replicas can stand by")
    flag(parser, "--leader-elect-lease-duration", env="K8PY_LEADER_ELECT_LEASE_DURATION",
         default=15.0, type=parse_duration, help="how long a standby waits on a silent leader")
    flag(parser, "--leader-elect-renew-deadline", env="K8PY_LEADER_ELECT_RENEW_DEADLINE",
         default=10.0, type=parse_duration, help="how long the leader keeps trying to renew")
    flag(parser, "--leader-elect-retry-period", env="K8PY_LEADER_ELECT_RETRY_PERIOD",
         default=2.0, type=parse_duration, help="interval between lease attempts")
    flag(parser, "--leader-elect-resource-name", env="K8PY_LEADER_ELECT_RESOURCE_NAME",
         default=resource_name, help="name of the leader election Lease")
    flag(parser, "--leader-elect-resource-namespace", env="K8PY_LEADER_ELECT_RESOURCE_NAMESPACE",
         default="kube-system", help="namespace of the leader election Lease")


def elector_from_args(client: ApiClient, args: argparse.Namespace, *, identity: str,
                      logger: logging.Logger) -> LeaderElector:
    """The elector the flags of ``add_leader_election_flags`` describe."""
    return LeaderElector(
        client, lock_name=args.leader_elect_resource_name,
        lock_namespace=args.leader_elect_resource_namespace, identity=identity,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period, logger=logger)
