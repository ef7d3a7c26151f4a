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
                      timeout: float = 30.0, separate_stderr: bool = False) -> tuple[int, str]:
    """Run ``argv`` to completion; its exit code and what it wrote.

    The text is stdout and stderr together, or, with ``separate_stderr`` (for a
    program whose stdout is data, such as ``iptables-save``, and whose warnings must
    not end up in it), stdout when it succeeded and stderr when it failed.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if separate_stderr else asyncio.subprocess.STDOUT)
    except OSError as exc:
        return 127, str(exc)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, f"{argv[0]} timed out after {timeout:g}s"
    code = proc.returncode or 0
    if not separate_stderr:
        return code, out.decode("utf-8", "replace").strip()
    if code == 0:
        return code, out.decode("utf-8", "replace")
    return code, err.decode("utf-8", "replace").strip()
