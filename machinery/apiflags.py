"""The ``--kubeconfig``/``--master`` pair and the API client they describe.

Every component that is an API client takes the same two flags and reads
them by kubectl's rules: the kubeconfig's current context gives the server
and the identity, and ``--master`` overrides the server (alone, it is enough
for an unauthenticated local API server).  Declaring and resolving them in
one place keeps the components' ``__main__`` modules to wiring.
"""

from __future__ import annotations

import argparse

from machinery import kubeconfig
from machinery.client import ApiClient
from machinery.component import flag

__all__ = ["add_api_flags", "check_api_flags", "client_from_args"]


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--kubeconfig", env="KUBECONFIG", default=None,
         help="kubeconfig file with the API server address and credentials")
    flag(parser, "--master", env="K8PY_MASTER", default=None,
         help="API server URL (overrides the kubeconfig's server)")


def check_api_flags(args: argparse.Namespace) -> None:
    """Fail early (``ValueError``) on a kubeconfig that cannot be used, before any I/O."""
    if not args.master or args.kubeconfig:
        kubeconfig.load(args.kubeconfig).context()


def client_from_args(args: argparse.Namespace, user_agent: str) -> ApiClient:
    if args.master and not args.kubeconfig:
        return ApiClient(args.master, user_agent=user_agent)
    ctx = kubeconfig.load(args.kubeconfig).context()
    server = args.master or ctx.server
    return ApiClient(server, token=ctx.token, namespace=ctx.namespace, user_agent=user_agent,
                     ssl_context=ctx.ssl_context() if server.startswith("https://") else None)
