"""Component scaffolding: flags, logs, the health/metrics server and signal handling."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from machinery import component
from machinery.component import Health, add_common_flags, flag, run, serve_health, setup_logging

REPO = Path(__file__).resolve().parents[2]


def test_exported_members() -> None:
    for name in component.__all__:
        assert hasattr(component, name), name


# --- flags ------------------------------------------------------------------


def test_flag_default_env_and_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8PY_TEST_PORT", raising=False)
    parser = argparse.ArgumentParser()
    flag(parser, "--port", env="K8PY_TEST_PORT", default=8080, type=int, help="listen port")
    assert parser.parse_args([]).port == 8080
    monkeypatch.setenv("K8PY_TEST_PORT", "9090")
    parser = argparse.ArgumentParser()
    flag(parser, "port", env="K8PY_TEST_PORT", default=8080, type=int, help="listen port")
    assert parser.parse_args([]).port == 9090
    assert parser.parse_args(["--port", "1"]).port == 1  # the command line wins
    assert "(env: K8PY_TEST_PORT; default: 9090)" in " ".join(parser.format_help().split())


def test_flag_env_satisfies_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8PY_TEST_SERVER", "https://api:6443")
    parser = argparse.ArgumentParser()
    flag(parser, "--server", env="K8PY_TEST_SERVER", required=True, help="API server URL")
    assert parser.parse_args([]).server == "https://api:6443"


def test_flag_required_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8PY_TEST_SERVER", raising=False)
    parser = argparse.ArgumentParser()
    flag(parser, "--server", env="K8PY_TEST_SERVER", required=True, help="API server URL")
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert "(env: K8PY_TEST_SERVER)" in parser.format_help()


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("Yes", True), ("off", False),
                                          ("0", False)])
def test_bool_flag_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("K8PY_TEST_LEADER", raw)
    parser = argparse.ArgumentParser()
    flag(parser, "--leader-elect", env="K8PY_TEST_LEADER", type=bool, help="elect a leader")
    assert parser.parse_args([]).leader_elect is expected
    assert parser.parse_args(["--leader-elect"]).leader_elect is True
    assert parser.parse_args(["--no-leader-elect"]).leader_elect is False


def test_bad_env_value_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("K8PY_TEST_PORT", "eighty")
    with pytest.raises(SystemExit) as info:
        flag(argparse.ArgumentParser(), "--port", env="K8PY_TEST_PORT", type=int, help="p")
    assert info.value.code == 2
    assert "K8PY_TEST_PORT" in capsys.readouterr().err


def test_common_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8PY_LOG_FORMAT", "json")
    monkeypatch.delenv("K8PY_HEALTH_PORT", raising=False)
    monkeypatch.delenv("K8PY_LOG_LEVEL", raising=False)
    parser = argparse.ArgumentParser()
    add_common_flags(parser, health_port=10259)
    args = parser.parse_args([])
    assert (args.log_level, args.log_format, args.health_port) == ("info", "json", 10259)
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-level", "loud"])


# --- logging ----------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_text_logs_are_klog_lines(capsys: pytest.CaptureFixture[str]) -> None:
    log = setup_logging("scheduler", "info", "text")
    log.info("bound pod", extra={"pod": "default/web-1", "node": "node 2"})
    log.debug("hidden")
    log.warning("multi\nline")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r'I\d{4} \d\d:\d\d:\d\d\.\d{6} scheduler\] bound pod pod=default/web-1 node="node 2"', lines[0])
    assert lines[1].startswith("W") and lines[1].endswith("scheduler] multi\\nline")


@pytest.mark.usefixtures("restore_logging")
def test_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    log = setup_logging("kubelet", "debug", "json")
    log.debug("synced", extra={"pods": 3})
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("sync failed")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["level"] == "debug" and first["component"] == "kubelet"
    assert first["msg"] == "synced" and first["pods"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["ts"])
    assert second["level"] == "error" and second["err"] == "ValueError: bad\nthing"
    assert "Traceback" in second["traceback"]  # debug level keeps the traceback, still one line


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_replaces_itself_and_validates(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("a")
    log = setup_logging("b", "warning")
    log.info("dropped")
    log.error("kept")
    assert capsys.readouterr().err.count("kept") == 1
    with pytest.raises(ValueError):
        setup_logging("a", "loud")
    with pytest.raises(ValueError):
        setup_logging("a", "info", "xml")


# --- health -----------------------------------------------------------------


def test_health_checks() -> None:
    health = Health()
    assert health.live() == (True, []) and health.ready() == (True, [])
    synced = {"ok": False}

    def broken() -> bool:
        raise RuntimeError("boom")

    health.add_check("ping", lambda: True)
    health.add_check("informers-synced", lambda: synced["ok"], ready_only=True)
    assert health.live() == (True, [])
    assert health.ready() == (False, ["informers-synced"])
    synced["ok"] = True
    assert health.ready() == (True, [])
    health.add_check("loop", broken)
    assert health.live() == (False, ["loop"])
    assert health.ready() == (False, ["loop"])


async def test_serve_health_over_http() -> None:
    health = Health()
    synced = {"ok": False}
    health.add_check("ping", lambda: True)
    health.add_check("informers", lambda: synced["ok"], ready_only=True)
    registry = CollectorRegistry()
    Counter("k8py_test_syncs", "syncs done", registry=registry).inc(3)
    server = await serve_health(health, "127.0.0.1", 0, registry=registry)
    port = server.sockets[0].getsockname()[1]
    assert port > 0
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for path in ("/healthz", "/livez"):
                resp = await client.get(path)
                assert (resp.status_code, resp.text) == (200, "ok")
            resp = await client.get("/readyz")
            assert resp.status_code == 500
            assert "[-]informers failed" in resp.text and "[+]ping ok" in resp.text
            assert "readyz check failed" in resp.text
            synced["ok"] = True
            resp = await client.get("/readyz")
            assert (resp.status_code, resp.text) == (200, "ok")
            resp = await client.get("/readyz?verbose")
            assert resp.text == "[+]ping ok\n[+]informers ok\nreadyz check passed\n"
            resp = await client.get("/metrics")
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert "k8py_test_syncs_total 3.0" in resp.text
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/healthz", content=b"x")).status_code == 405
            head = await client.head("/healthz")
            assert head.status_code == 200 and head.content == b""
    finally:
        server.close()
        await server.wait_closed()


async def test_serve_health_default_registry_and_raw_http() -> None:
    server = await serve_health(Health(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert resp.status_code == 200 and "python_info" in resp.text
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), timeout=5)  # HTTP/1.0: server closes
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\nok")
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"garbage\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), timeout=5)).startswith(b"HTTP/1.1 400")
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


# --- run --------------------------------------------------------------------


def test_run_returns_zero_when_main_finishes(caplog: pytest.LogCaptureFixture) -> None:
    done = []

    async def main() -> None:
        await asyncio.sleep(0)
        done.append(True)

    assert run(main, logger=logging.getLogger("t")) == 0
    assert done == [True]


def test_run_returns_one_on_crash(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        raise RuntimeError("etcd unreachable")

    with caplog.at_level(logging.INFO, logger="t"):
        assert run(main, logger=logging.getLogger("t")) == 1
    [record] = [r for r in caplog.records if r.name == "t"]
    assert record.getMessage() == "exiting on error: RuntimeError: etcd unreachable"
    assert record.exc_info is None  # no traceback unless debugging


def _spawn(body: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    script = tmp_path / "comp.py"
    script.write_text(textwrap.dedent("""
        import asyncio, sys
        from machinery.component import run, setup_logging
        log = setup_logging("demo", sys.argv[1] if len(sys.argv) > 1 else "info")
    """) + textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(script), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == expected, (line, proc.stderr.read() if proc.poll() is not None else "")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    proc = _spawn("""
        async def main():
            try:
                print("started", flush=True)
                await asyncio.Event().wait()
            finally:
                await asyncio.sleep(0.05)
                print("cleaned up", flush=True)
        sys.exit(run(main, logger=log))
    """, tmp_path)
    _wait_for_line(proc, "started")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "cleaned up" in out
    assert f"received {signum.name}, shutting down" in err
    assert "shutdown complete" in err


def test_second_signal_forces_exit(tmp_path: Path) -> None:
    proc = _spawn("""
        async def main():
            print("started", flush=True)
            try:
                await asyncio.Event().wait()
            finally:
                print("stalling", flush=True)
                await asyncio.shield(asyncio.sleep(60))
        sys.exit(run(main, logger=log))
    """, tmp_path)
    _wait_for_line(proc, "started")
    proc.send_signal(signal.SIGTERM)
    _wait_for_line(proc, "stalling")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "received SIGTERM again, exiting immediately" in err


@pytest.mark.parametrize("level,traceback", [("info", False), ("debug", True)])
def test_crash_logs_one_line(tmp_path: Path, level: str, traceback: bool) -> None:
    proc = _spawn("""
        async def main():
            raise ConnectionError("no route to apiserver")
        sys.exit(run(main, logger=log))
    """, tmp_path, level)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("E") and "exiting on error: ConnectionError: no route to apiserver" in lines[0]
    assert ("Traceback" in lines[0]) is traceback


def test_tune_gc_freezes_startup_objects_and_raises_thresholds() -> None:
    # In a child: the thresholds and the frozen set are process-wide.
    code = textwrap.dedent("""
        import gc
        from machinery.component import GC_THRESHOLDS, tune_gc
        loaded = [{"schema": i} for i in range(1000)]
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()
        assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
