"""serve_exec over an in-memory transport, with real local processes and a recording fake."""

from __future__ import annotations

import asyncio
import json

import pytest
from tests.machinery.streams.streams_memory import MemoryTransport

from machinery.streams import LocalProcess, report_exec_error, serve_exec
from machinery.streams.channels import V1_PROTOCOL, V4_PROTOCOL, V5_PROTOCOL

pytestmark = pytest.mark.timeout(30)


def channel_data(transport: MemoryTransport, channel: int) -> bytes:
    return b"".join(m[1:] for m in transport.sent if m and m[0] == channel)


async def run_local(argv: list[str], protocol: str = V5_PROTOCOL, *, tty: bool = False,
                    stdin: bool = False, feed: list[bytes] = (), stdout: bool = True,  # type: ignore[assignment]
                    stderr: bool = True) -> MemoryTransport:
    transport = MemoryTransport()
    transport.feed(*feed)
    process = await LocalProcess.start(argv, tty=tty)
    try:
        await asyncio.wait_for(serve_exec(transport, protocol, process, stdin=stdin, stdout=stdout,
                                          stderr=stderr and not tty, tty=tty), 10)
    finally:
        await process.terminate()
    return transport


async def test_output_exit_code_and_close() -> None:
    t = await run_local(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert t.sent[0] == b"\x01"  # the empty "connected" frame on the lowest writable channel
    assert channel_data(t, 1) == b"out\n"
    assert channel_data(t, 2) == b"err\n"
    status = json.loads(channel_data(t, 3))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
    assert t.close_code == 1000


async def test_success_status() -> None:
    t = await run_local(["true"])
    assert json.loads(channel_data(t, 3)) == {"metadata": {}, "status": "Success"}
    assert t.close_code == 1000


async def test_v5_close_half_closes_stdin() -> None:
    t = await run_local(["cat"], stdin=True, feed=[b"\x00hello ", b"\x00world\n", b"\xff\x00"])
    assert channel_data(t, 1) == b"hello world\n"
    assert json.loads(channel_data(t, 3))["status"] == "Success"


async def test_unrequested_output_is_drained_not_sent() -> None:
    # 256 KiB on stdout would fill a pipe if nobody read it.
    t = await run_local(["sh", "-c", "head -c 262144 /dev/zero; echo done >&2"], stdout=False)
    assert t.sent[0] == b"\x02"
    assert channel_data(t, 1) == b""
    assert channel_data(t, 2) == b"done\n"


async def test_pre_v4_protocol_sends_text_only_on_failure() -> None:
    ok = await run_local(["true"], V1_PROTOCOL)
    assert channel_data(ok, 3) == b""
    failed = await run_local(["sh", "-c", "exit 3"], V1_PROTOCOL)
    assert b"exit status 3" in channel_data(failed, 3)


async def test_tty_resize_reaches_the_terminal() -> None:
    resize = b"\x04" + json.dumps({"Width": 123, "Height": 45}).encode()
    # The command waits for the resize (SIGWINCH) before asking the terminal its size.
    script = "trap 'stty size; exit 0' WINCH; while :; do sleep 0.05; done"
    t = MemoryTransport()
    process = await LocalProcess.start(["sh", "-c", script], tty=True)
    try:
        session = asyncio.ensure_future(serve_exec(t, V5_PROTOCOL, process, stdin=True, stdout=True,
                                                   stderr=False, tty=True))
        await asyncio.sleep(0.2)
        t.feed(resize)
        await asyncio.wait_for(session, 10)
    finally:
        await process.terminate()
    assert b"45 123" in channel_data(t, 1)
    assert json.loads(channel_data(t, 3))["status"] == "Success"


async def test_tty_stdin_is_echoed_and_eof_ends_cat() -> None:
    t = await run_local(["cat"], tty=True, stdin=True, feed=[b"\x00typed\n", b"\xff\x00"])
    # the terminal echoes the input and cat repeats it
    assert channel_data(t, 1).count(b"typed") == 2
    assert channel_data(t, 2) == b""


class RecordingProcess:
    """An ExecProcess whose behaviour the test scripts."""

    def __init__(self, *, fail: bool = False, stdin_broken: bool = False) -> None:
        self.calls: list[tuple[str, object]] = []
        self.exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.fail = fail
        self.stdin_broken = stdin_broken

    async def write_stdin(self, data: bytes) -> None:
        if self.stdin_broken:
            raise BrokenPipeError("the command closed its input")
        self.calls.append(("stdin", data))

    async def close_stdin(self) -> None:
        self.calls.append(("close", None))

    async def read_stdout(self) -> bytes:
        await asyncio.shield(self.exit)
        return b""

    async def read_stderr(self) -> bytes:
        return b""

    async def resize(self, width: int, height: int) -> None:
        self.calls.append(("resize", (width, height)))

    async def wait(self) -> int:
        code = await asyncio.shield(self.exit)
        if self.fail:
            raise RuntimeError("runtime lost the container")
        return code


async def test_v4_ignores_close_signal_and_resize_without_tty() -> None:
    t, p = MemoryTransport(), RecordingProcess()
    session = asyncio.ensure_future(serve_exec(t, V4_PROTOCOL, p, stdin=True, stdout=True, stderr=True,
                                               tty=False))
    t.feed(b"\x00abc", b"\xff\x00", b'\x04{"Width":1,"Height":2}', b"\x00def")
    await t.wait_until(lambda: len(p.calls) >= 2)
    p.exit.set_result(0)
    await asyncio.wait_for(session, 5)
    assert p.calls == [("stdin", b"abc"), ("stdin", b"def")]


async def test_client_leaving_closes_stdin_and_returns() -> None:
    t, p = MemoryTransport(), RecordingProcess()
    session = asyncio.ensure_future(serve_exec(t, V5_PROTOCOL, p, stdin=True, stdout=True, stderr=True,
                                               tty=True))
    t.feed(b'\x04{"Width":80,"Height":24}', b"\x04not json")
    t.hang_up()
    await asyncio.wait_for(session, 5)
    assert p.calls == [("resize", (80, 24)), ("close", None)]
    assert t.close_code is None  # nobody left to tell
    assert not p.exit.done()     # the process belongs to the caller


async def test_runtime_failure_becomes_internal_error_status() -> None:
    t, p = MemoryTransport(), RecordingProcess(fail=True)
    session = asyncio.ensure_future(serve_exec(t, V5_PROTOCOL, p, stdin=False, stdout=True, stderr=True,
                                               tty=False))
    p.exit.set_result(0)
    await asyncio.wait_for(session, 5)
    status = json.loads(channel_data(t, 3))
    assert status["reason"] == "InternalError"
    assert "runtime lost the container" in status["message"]
    assert t.close_code == 1000


async def test_report_exec_error() -> None:
    t = MemoryTransport()
    await report_exec_error(t, V5_PROTOCOL, 'container "x" not found')
    assert json.loads(channel_data(t, 3))["message"] == 'container "x" not found'
    assert t.close_code == 1000


async def test_signal_death_reads_as_128_plus_signal() -> None:
    t = await run_local(["sh", "-c", "kill -9 $$"])
    assert json.loads(channel_data(t, 3))["details"]["causes"][0]["message"] == "137"


async def test_local_process_rejects_missing_command() -> None:
    with pytest.raises(FileNotFoundError):
        await LocalProcess.start(["/nonexistent/binary"])


async def test_failing_stdin_does_not_lose_the_exit_status() -> None:
    t, p = MemoryTransport(), RecordingProcess(stdin_broken=True)
    session = asyncio.ensure_future(serve_exec(t, V5_PROTOCOL, p, stdin=True, stdout=True, stderr=True,
                                               tty=False))
    t.feed(b"\x00ignored", b"\x00also ignored")
    await asyncio.sleep(0.05)
    p.exit.set_result(2)
    await asyncio.wait_for(session, 5)
    assert json.loads(channel_data(t, 3))["details"]["causes"][0]["message"] == "2"
    assert t.close_code == 1000
