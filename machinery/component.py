"""Process scaffolding shared by every k8py component.

Each component (apiserver, scheduler, controller manager, kubelet,
kube-proxy, DNS, ingress) is its own process and must behave like the
Kubernetes one it stands for when an operator or a container runtime drives
it: flags that fall back to environment variables (compose files set
``K8PY_*``), klog-style or JSON logs with one line per record, health and
readiness endpoints plus Prometheus metrics on a small side port, and a
clean exit on SIGTERM so ``docker stop`` never has to SIGKILL. Putting this
in one place keeps the seven ``main()`` functions to wiring only.  The
health port itself lives in ``machinery.health``; its names are re-exported
here so a main imports its scaffolding from one module.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from machinery.health import Health, serve_health, serving_health

__all__ = [
    "flag",
    "parse_duration",
    "add_common_flags",
    "setup_logging",
    "Health",
    "serve_health",
    "serving_health",
    "run",
    "tune_gc",
]

# --- flags ------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (``40s``, ``1m30s``, ``500ms``) or a bare number.

    A flag ``type`` for the durations Kubernetes components take in Go syntax.
    """
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def flag(parser: argparse.ArgumentParser, name: str, *, env: str, default: object = None,
         type: Callable[[str], Any] = str, help: str, **kw: Any) -> None:
    """Declare ``--name``; when ``env`` is set, its value becomes the default.

    A command-line value still wins over the environment, which wins over
    ``default``. ``type=bool`` makes a ``--name/--no-name`` pair and reads the
    variable as 1/true/yes/on or 0/false/no/off. A malformed variable stops
    the program with a usage error naming the variable.
    """
    option = name if name.startswith("-") else f"--{name}"
    raw = os.environ.get(env)
    is_bool = type is bool
    convert: Callable[[str], Any] = _parse_bool if is_bool else type
    if raw is not None:
        try:
            default = convert(raw)
        except (ValueError, TypeError) as exc:
            parser.error(f"invalid value for ${env}: {exc}")
        kw["required"] = False
    shown = f"env: {env}" + ("" if default is None else "; default: %(default)s")
    if is_bool:
        kw.setdefault("action", argparse.BooleanOptionalAction)
        parser.add_argument(option, default=bool(default), help=f"{help} ({shown})", **kw)
    else:
        parser.add_argument(option, default=default, type=type, help=f"{help} ({shown})", **kw)


def add_common_flags(parser: argparse.ArgumentParser, *, health_port: int) -> None:
    """The flags every component shares: logging and the health/metrics listener."""
    flag(parser, "--log-level", env="K8PY_LOG_LEVEL", default="info",
         choices=["debug", "info", "warning", "error"], help="log verbosity")
    flag(parser, "--log-format", env="K8PY_LOG_FORMAT", default="text", choices=["text", "json"],
         help="log line format")
    flag(parser, "--health-address", env="K8PY_HEALTH_ADDRESS", default="0.0.0.0",
         help="address of the /healthz, /readyz and /metrics listener")
    flag(parser, "--health-port", env="K8PY_HEALTH_PORT", default=health_port, type=int,
         help="port of the /healthz, /readyz and /metrics listener (0 picks one)")


# --- logging ----------------------------------------------------------------

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "warn": logging.WARNING, "error": logging.ERROR}
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


def _error_fields(record: logging.LogRecord, debug: bool) -> dict[str, str]:
    if not record.exc_info or record.exc_info[1] is None:
        return {}
    exc = record.exc_info[1]
    fields = {"err": f"{type(exc).__name__}: {exc}"}
    if debug:
        fields["traceback"] = logging.Formatter().formatException(record.exc_info)
    return fields


class _KlogFormatter(logging.Formatter):
    """``I1122 03:04:05.123456 scheduler] msg key=value``, as klog prints it."""

    def __init__(self, component: str, debug: bool) -> None:
        super().__init__()
        self.component = component
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        when = time.gmtime(record.created)
        micros = int((record.created % 1) * 1_000_000)
        head = f"{record.levelname[0]}{time.strftime('%m%d %H:%M:%S', when)}.{micros:06d} {self.component}]"
        fields = {**_extras(record), **_error_fields(record, self.debug)}
        parts = [head, _escape(record.getMessage())]
        parts.extend(f"{k}={_render(v)}" for k, v in fields.items())
        return " ".join(parts)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _render(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\\\n\r\t'):
        return text
    return json.dumps(text)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, component, msg, then extra fields."""

    def __init__(self, component: str, debug: bool) -> None:
        super().__init__()
        self.component = component
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "ts": f"{when}.{int((record.created % 1) * 1_000_000):06d}Z",
            "level": record.levelname.lower(),
            "component": self.component,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in {**_extras(record), **_error_fields(record, self.debug)}.items():
            entry.setdefault(key, value)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(component: str, level: str = "info", fmt: str = "text") -> logging.Logger:
    """Route every logger to stderr in the chosen format; returns the component's logger.

    Calling it again replaces the previous setup, so tests and re-exec'd
    mains stay single-handler. Chatty HTTP client libraries are held at
    WARNING unless debugging.
    """
    if level.lower() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; choose one of {', '.join(_LEVELS)}")
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}; choose text or json")
    numeric = _LEVELS[level.lower()]
    debug = numeric <= logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KlogFormatter(component, debug) if fmt == "text" else _JsonFormatter(component, debug))
    handler.set_name("k8py")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "k8py"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(numeric if debug else max(numeric, logging.WARNING))
    logging.getLogger("asyncio").setLevel(max(numeric, logging.WARNING))
    return logging.getLogger(component)


# --- garbage collection -----------------------------------------------------

#: Generation thresholds once a server is up: a young collection every 20,000 net
#: allocations instead of 700, and a full one a hundred times rarer than young ones.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Keep the collector's pauses off the request path of a long-running server.

    With CPython's default thresholds a busy API server ran a full collection
    every few seconds, and each one walked every object it had ever loaded
    (schemas, discovery documents, the watch caches): 50-100 ms in which no
    request was answered, the whole p99 of bench/api's creates. Freezing what
    start-up loaded moves it out of the collector's reach for good, and larger
    thresholds make the remaining collections rare; reference counting still
    frees everything that is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


# --- main loop --------------------------------------------------------------


def run(main: Callable[[], Awaitable[None]], *, logger: logging.Logger) -> int:
    """Run ``main()`` until it returns or a SIGTERM/SIGINT cancels it; the exit code.

    The first signal cancels the main task so its ``finally`` blocks release
    leases, close watches and stop containers cleanly (0); a second one exits
    at once (1), as kubelets and controller managers do when hurried. A crash
    is logged as one line (with a traceback only at debug level) and gives 1.
    """
    stopping = False

    async def supervise() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main())

        def on_signal(signum: int) -> None:
            nonlocal stopping
            name = signal.Signals(signum).name
            if stopping:
                logger.warning("received %s again, exiting immediately", name)
                logging.shutdown()
                os._exit(1)
            stopping = True
            logger.info("received %s, shutting down", name)
            task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await task
        except asyncio.CancelledError:
            if stopping:
                logger.info("shutdown complete")
                return 0
            logger.error("main task was cancelled unexpectedly")
            return 1
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if stopping:
            logger.info("shutdown complete")
        return 0

    try:
        return asyncio.run(supervise())
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        debug = logger.isEnabledFor(logging.DEBUG)
        logger.error("exiting on error: %s: %s", type(exc).__name__, exc, exc_info=exc if debug else None)
        return 1
