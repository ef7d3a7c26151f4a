"""Connections into a pod for port-forward: its bridge IP first, its netns if need be.

The kubelet and its pods share the host's Docker, so the pod's address on the
cluster bridge normally answers from the kubelet's side and a plain TCP
connection is all a forward needs. Kubernetes forwards to ``localhost``
inside the pod, though, and two cases only that reaches: an app listening on
127.0.0.1, and a kubelet (in a node container) with no route to the bridge.
For those the connection is made from inside the sandbox's network namespace
by a tiny relay (``nsenter -t <pid> -n python -c ...``, as dockershim ran
``socat``), whose stdin and stdout become the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys

__all__ = ["PodConnector", "RELAY"]

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 5.0

# Runs inside the pod's network namespace. It reports the connect outcome in
# its first byte ("K", or "E" and the error), then relays until the pod side
# closes; an EOF on stdin half-closes the pod connection.
RELAY = r"""
import os, socket, sys, threading
try:
    conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
except OSError as exc:
    os.write(1, b"E" + str(exc).encode())
    sys.exit(1)
conn.settimeout(None)
os.write(1, b"K")
def upload():
    while data := os.read(0, 65536):
        conn.sendall(data)
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=upload, daemon=True).start()
while data := conn.recv(65536):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
"""


class PodConnector:
    """``connect(port)`` for one port-forward session into one pod.

    ``close`` ends the relays the session started: a relay whose pod side
    never hangs up would otherwise outlive the session.
    """

    def __init__(self, pod_ip: str, sandbox_pid: int, *, nsenter: str | None = None) -> None:
        self.pod_ip = pod_ip
        self.sandbox_pid = sandbox_pid
        self.nsenter = nsenter if nsenter is not None else (shutil.which("nsenter") or "")
        self._relays: set[asyncio.subprocess.Process] = set()

    async def __call__(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        first: OSError | None = None
        if self.pod_ip:
            try:
                return await asyncio.wait_for(asyncio.open_connection(self.pod_ip, port),
                                              _CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                first = exc if isinstance(exc, OSError) else OSError(f"dial {self.pod_ip}:{port}: timeout")
        if not self.nsenter or self.sandbox_pid <= 0:
            raise first or ConnectionRefusedError(f"pod has no address to forward port {port} to")
        try:
            return await self._relay(port)
        except OSError as exc:
            log.debug("port-forward to %s:%d failed (%s), and from inside the pod (%s)",
                      self.pod_ip, port, first, exc)
            raise exc from first

    async def _relay(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proc = await asyncio.create_subprocess_exec(
            self.nsenter, "-t", str(self.sandbox_pid), "-n", sys.executable, "-c", RELAY, str(port),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            status = await asyncio.wait_for(proc.stdout.read(1), _CONNECT_TIMEOUT * 2)
        except TimeoutError:
            status = b""
        if status != b"K":
            detail = (await proc.stdout.read()).decode(errors="replace") if status == b"E" else ""
            await _reap(proc)
            raise ConnectionRefusedError(
                f"dial 127.0.0.1:{port} in the pod's network namespace: {detail or 'relay failed'}")
        self._relays.add(proc)
        asyncio.ensure_future(proc.wait()).add_done_callback(lambda _: self._relays.discard(proc))
        return proc.stdout, proc.stdin

    async def close(self) -> None:
        await asyncio.gather(*(_reap(proc) for proc in list(self._relays)))


async def _reap(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()
