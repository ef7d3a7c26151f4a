"""Running a short helper program (``ip``, ``nsenter``, ``iptables-restore``) from async code.

Node agents shell out for what only those programs do well -- entering a
pod's namespaces, batching netlink or netfilter changes -- and must never
hang on one or crash when it is missing: a missing binary is exit 127 and a
stuck one is killed after ``timeout`` (exit 124), as a shell reports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

__all__ = ["run_command"]


async def run_command(argv: Sequence[str], *, stdin: bytes | None = None,
                      timeout: float = 30.0) -> tuple[int, str]:
    """Run ``argv`` to completion; its exit code and its stdout and stderr together."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return 127, str(exc)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, f"{argv[0]} timed out after {timeout:g}s"
    return proc.returncode or 0, out.decode("utf-8", "replace").strip()
