"""Running ``k8py`` (or kubectl) as a user does, as a subprocess, and checking how it ended.

Shared by the CLI compatibility modules, which drive the same binary against the same API server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

K8PY = str(Path(sys.executable).with_name("k8py"))


def run(kubeconfig: str, namespace: str | None, *args: str, stdin: str | None = None,
        tool: str = K8PY) -> subprocess.CompletedProcess[str]:
    argv = [tool, "--kubeconfig", kubeconfig, *(["-n", namespace] if namespace else []), *args]
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must have succeeded."""
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error of a command that must have failed with one line on stderr and no traceback."""
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.rstrip("\n")
