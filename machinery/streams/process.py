"""``LocalProcess``: an ``ExecProcess`` backed by a subprocess on this machine.

The kubelet falls back to it where no container runtime is involved, and the
tests drive real kubectl against it. With ``tty=True`` the command gets a
pseudo-terminal as its controlling terminal, so resizes reach it as SIGWINCH
and stderr is merged into the terminal, as with ``docker exec -t``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import os
import pty
import signal
import struct
import termios
from collections.abc import Mapping, Sequence

__all__ = ["LocalProcess"]

_CHUNK = 64 * 1024


def _take_terminal(slave: int) -> None:
    """Runs in the child between fork and exec: a new session whose terminal is the pty.

    It addresses the slave by its inherited descriptor rather than as fd 0:
    uvloop runs this hook before the child's descriptors are rearranged.
    A failure leaves the command without a controlling terminal, not unstarted.
    """
    with contextlib.suppress(OSError):
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)


class LocalProcess:
    """A running local command; create it with ``await LocalProcess.start(...)``."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self._proc = proc
        self._master = master
        self._master_eof = False

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        tty: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> LocalProcess:
        """Spawn ``argv``; raises ``OSError`` (e.g. FileNotFoundError) if it cannot start."""
        if not argv:
            raise ValueError("empty command")
        environ = dict(os.environ if env is None else env)
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=environ, cwd=cwd,
            )
            return cls(proc, None)
        master, slave = pty.openpty()
        environ.setdefault("TERM", "xterm")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=environ, cwd=cwd,
                preexec_fn=functools.partial(_take_terminal, slave),
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return cls(proc, master)

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def write_stdin(self, data: bytes) -> None:
        if self._master is not None:
            await self._write_master(data)
            return
        stream = self._proc.stdin
        if stream is None or stream.is_closing():
            return
        # The command may exit without reading its input; that is not an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stream.write(data)
            await stream.drain()

    async def close_stdin(self) -> None:
        if self._master is not None:
            # A terminal has no half-close; EOT at the start of a line is its EOF.
            await self._write_master(b"\x04")
            return
        stream = self._proc.stdin
        if stream is not None and not stream.is_closing():
            stream.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await stream.wait_closed()

    async def read_stdout(self) -> bytes:
        if self._master is not None:
            return await self._read_master()
        assert self._proc.stdout is not None
        return await self._proc.stdout.read(_CHUNK)

    async def read_stderr(self) -> bytes:
        if self._master is not None:
            return b""
        assert self._proc.stderr is not None
        return await self._proc.stderr.read(_CHUNK)

    async def resize(self, width: int, height: int) -> None:
        if self._master is None or self._master_eof:
            return
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        code = await self._proc.wait()
        # A signal death reads as 128+signal, as a shell (and Docker) reports it.
        return 128 - code if code < 0 else code

    async def terminate(self, grace: float = 2.0) -> None:
        """Stop the command if it still runs and release the terminal."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), grace)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._signal(signal.SIGKILL)
                await self._proc.wait()
        self._close_master()

    def _signal(self, sig: int) -> None:
        if self._master is not None:
            # The command leads its own session; reach its children too.
            os.killpg(self._proc.pid, sig)
        else:
            self._proc.send_signal(sig)

    def _close_master(self) -> None:
        if self._master is not None and not self._master_eof:
            self._master_eof = True
            os.close(self._master)

    async def _read_master(self) -> bytes:
        assert self._master is not None
        while not self._master_eof:
            try:
                data = os.read(self._master, _CHUNK)
            except BlockingIOError:
                await self._ready(self._master, writable=False)
                continue
            except OSError as exc:
                # EIO: every slave descriptor is closed, the command has ended.
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                self._close_master()
            return data
        return b""

    async def _write_master(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._master_eof:
            assert self._master is not None
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                await self._ready(self._master, writable=True)
            except OSError:
                return

    @staticmethod
    async def _ready(fd: int, *, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        (loop.add_writer if writable else loop.add_reader)(fd, wake)
        try:
            await done
        finally:
            (loop.remove_writer if writable else loop.remove_reader)(fd)
