"""The server side of an exec/attach session over the channel.k8s.io framing.

The kubelet runs this against a container process; the API server only relays
the frames. The process is reached through ``ExecProcess`` so the same session
code drives a Docker exec, an attach to a running container, or a local
subprocess (``LocalProcess``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from machinery.streams.channels import (
    CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT, V5_PROTOCOL,
    encode_frame, exit_code_status, failure_status, status_payload, success_status,
)
from machinery.streams.transport import Sender, Transport, until_first

__all__ = ["ExecProcess", "ExecOptions", "serve_exec", "report_exec_error"]

log = logging.getLogger(__name__)


class ExecProcess(Protocol):
    """A running command as the session sees it."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def read_stdout(self) -> bytes:
        """The next chunk of output, ``b""`` at end of stream."""
        ...

    async def read_stderr(self) -> bytes: ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code once the command has ended."""
        ...


_TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class ExecOptions:
    """The exec/attach query parameters, parsed the same way on every hop."""

    command: list[str] = field(default_factory=list)
    container: str = ""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> ExecOptions:
        """From ``multi_items()`` of the request query; repeated ``command`` keeps order."""
        command: list[str] = []
        flags: dict[str, bool] = {}
        container = ""
        for key, value in items:
            if key == "command":
                command.append(value)
            elif key == "container":
                container = value
            elif key in ("stdin", "stdout", "stderr", "tty"):
                flags[key] = value.strip().lower() in _TRUE
        # kubectl never asks for stderr with a TTY (the terminal merges it).
        if flags.get("tty"):
            flags["stderr"] = False
        return cls(command=command, container=container, **flags)


async def report_exec_error(transport: Transport, protocol: str, message: str) -> None:
    """End a session that could not start: the error on channel 3, then close 1000."""
    sender = Sender(transport)
    with contextlib.suppress(ConnectionError):
        payload = status_payload(protocol, failure_status(message))
        if payload is not None:
            await sender(encode_frame(ERROR, payload))
        await sender.close(1000)


async def serve_exec(
    transport: Transport,
    protocol: str,
    process: ExecProcess,
    *,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> None:
    """Relay one exec/attach session until the command ends or the client leaves.

    On a normal end the exit status goes on channel 3 and the socket is closed
    with 1000 (kubectl reports close 1006 as an error). If the client leaves
    first, stdin is closed and the call returns; stopping the process is the
    caller's business, as it owns it.
    """
    session = _ExecSession(Sender(transport), protocol, process, stdin=stdin, tty=tty)
    await session.run(stdout=stdout, stderr=stderr)


class _ExecSession:
    def __init__(
        self, send: Sender, protocol: str, process: ExecProcess, *, stdin: bool, tty: bool,
    ) -> None:
        self.send = send
        self.protocol = protocol
        self.process = process
        self.tty = tty
        self.stdin_open = stdin

    async def run(self, *, stdout: bool, stderr: bool) -> None:
        try:
            # The kubelet's first message (empty, on the lowest writable channel)
            # tells clients the session is up.
            await self.send(encode_frame(STDOUT if stdout else STDERR if stderr else ERROR))
        except ConnectionError:
            await self._close_stdin()
            return
        finished, _ = await until_first(self._finish(stdout, stderr), self._receive())
        if finished.cancelled() or finished.exception() is not None:
            await self._close_stdin()

    async def _finish(self, stdout: bool, stderr: bool) -> None:
        """Drain both outputs, collect the exit code, report it, close."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(self.process.read_stdout, STDOUT if stdout else None))
                group.create_task(self._pump(self.process.read_stderr, STDERR if stderr else None))
                waiting = group.create_task(self.process.wait())
            code = waiting.result()
            status = success_status() if code == 0 else exit_code_status(code)
        except ExceptionGroup as failures:
            if failures.subgroup(ConnectionError) is not None:
                raise ConnectionError("client went away") from failures
            # A runtime failure becomes a Status for the client, not a crash.
            log.warning("exec session failed: %s", failures.exceptions[0])
            status = failure_status(f"error executing command in container: {failures.exceptions[0]}")
        payload = status_payload(self.protocol, status)
        if payload is not None:
            await self.send(encode_frame(ERROR, payload))
        await self.send.close(1000)

    async def _pump(self, read: Callable[[], Awaitable[bytes]], channel: int | None) -> None:
        # Output the client did not ask for is still drained, so the process
        # never blocks on a full pipe.
        while chunk := await read():
            if channel is not None:
                await self.send(encode_frame(channel, chunk))

    async def _receive(self) -> None:
        while (message := await self.send.transport.recv()) is not None:
            if message:
                try:
                    await self._deliver(message[0], message[1:])
                except Exception as exc:  # noqa: BLE001 - the command may be gone; its end is still reported
                    log.debug("exec input dropped: %s", exc)
                    self.stdin_open = False
        await self._close_stdin()

    async def _deliver(self, channel: int, payload: bytes) -> None:
        if channel == STDIN and self.stdin_open:
            await self.process.write_stdin(payload)
        elif channel == RESIZE and self.tty:
            size = _parse_resize(payload)
            if size is not None:
                await self.process.resize(*size)
        elif channel == CLOSE and self.protocol == V5_PROTOCOL and payload[:1] == bytes((STDIN,)):
            await self._close_stdin()

    async def _close_stdin(self) -> None:
        if self.stdin_open:
            self.stdin_open = False
            with contextlib.suppress(Exception):
                await self.process.close_stdin()


def _parse_resize(payload: bytes) -> tuple[int, int] | None:
    try:
        size: Any = json.loads(payload)
        return int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        log.debug("ignoring malformed resize message %r", payload)
        return None
