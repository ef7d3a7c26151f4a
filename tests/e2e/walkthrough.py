"""README.md's walkthrough as an executable script: its commands, run as written, and checks.

The walkthrough is the ```console blocks of the README's "## Walkthrough"
section: a line starting with ``$ `` is a command, the lines after it are
sample output for readers.  The samples carry pod names, ages and IPs that
differ on every run, so outputs are judged by ``CHECKS`` instead: one entry
per kind of command, keyed by a pattern over the command, reading and
updating what the cluster should look like by then (replicas, image
version).  A command without a check fails the run, so nothing in the
README goes untested.

A command ending in ``&`` starts in the background (port-forwards) and
``kill %1`` stops the newest one, as bash job control would.  Commands are
retried until their check passes or ``timeout`` runs out, because the
README's reader types slower than this runner: a curl right after a
port-forward, or a pod count right after a delete, is eventually right.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Command", "State", "read_walkthrough", "check_for", "advance", "Runner"]


@dataclass(frozen=True)
class Command:
    text: str
    sample: str

    @property
    def background(self) -> bool:
        return self.text.endswith("&")


@dataclass
class State:
    """What the cluster should show at this point of the walkthrough."""

    nodes: int
    replicas: int = 2
    version: str = "1.0"
    previous_version: str = "1.0"


def read_walkthrough(readme: Path) -> list[Command]:
    text = readme.read_text()
    start = text.index("\n## Walkthrough")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    commands: list[Command] = []
    for block in re.findall(r"^```console\n(.*?)^```", section, re.M | re.S):
        current: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if current:
                    commands.append(Command(current[0], "\n".join(current[1:])))
                current = [line[2:].strip()]
            elif current:
                current.append(line)
        if current:
            commands.append(Command(current[0], "\n".join(current[1:])))
    return commands


# -- checks: (stdout, state) -> None when right, else what is wrong ---------------------------

Check = Callable[[str, State], "str | None"]


def _rows(out: str) -> list[dict[str, str]]:
    """A kubectl table as dicts; columns cut at the header's positions (``NOMINATED NODE``)."""
    lines = [line for line in out.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.startswith("NAME ")), None)
    if header is None:
        return []
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", lines[header])]
    bounds = [start for _, start in columns[1:]] + [None]
    return [{name: line[start:end].strip() for (name, start), end in zip(columns, bounds)}
            for line in lines[header + 1:]]


def _expect(pattern: str) -> Check:
    def check(out: str, state: State) -> str | None:
        wanted = pattern.replace("{version}", re.escape(state.version))
        return None if re.search(wanted, out, re.M) else f"no match for /{wanted}/"
    return check


def _nodes_ready(out: str, state: State) -> str | None:
    ready = {r["NAME"] for r in _rows(out) if r.get("STATUS") == "Ready"}
    wanted = {f"node-{n}" for n in range(1, state.nodes + 1)}
    return None if wanted <= ready else f"Ready nodes {sorted(ready)}, wanted {sorted(wanted)}"


def _hello_pods(out: str, state: State) -> str | None:
    rows = [r for r in _rows(out) if r["NAME"].startswith("hello-")]
    live = [r for r in rows if r.get("STATUS") != "Terminating"]
    if len(live) != state.replicas or any(r.get("STATUS") != "Running" for r in live):
        return f"{len(live)} live hello pods ({[r.get('STATUS') for r in live]}), " \
               f"wanted {state.replicas} Running"
    nodes = {r["NODE"] for r in live if "NODE" in r}
    wide = any("NODE" in r for r in live)
    if wide and len(nodes) < min(2, state.nodes, len(live)):
        return f"all hello pods on {nodes}: not spread over the nodes"
    return None


def _all_lines(pattern: str) -> Check:
    def check(out: str, state: State) -> str | None:
        lines = [line for line in out.splitlines() if line.strip()]
        bad = [line for line in lines if not re.fullmatch(pattern, line)]
        return None if lines and not bad else f"lines not matching /{pattern}/: {bad or lines}"
    return check


def _both(*checks: Check) -> Check:
    def check(out: str, state: State) -> str | None:
        return next((err for c in checks if (err := c(out, state)) is not None), None)
    return check


def _exact_version(out: str, state: State) -> str | None:
    last = out.strip().splitlines()[-1:] or [""]
    return None if last[0] == state.version else f"{last[0]!r} is not version {state.version}"


CHECKS: list[tuple[str, Check]] = [
    (r"get nodes", _nodes_ready),
    (r"apply -f ", _all_lines(r"\S+ (created|configured|unchanged)")),
    (r"rollout status ", _expect(r'successfully rolled out')),
    (r"get pods( -l app=hello)?( -o wide)?$", _hello_pods),
    (r"^curl ", _expect(r"^Hello from hello-\S+ \(version {version}\)$")),
    (r"scale deployment/hello --replicas=", _expect(r"^deployment.apps/hello scaled$")),
    (r"set image deployment/hello ", _expect(r"^deployment.apps/hello image updated$")),
    (r"rollout history ", _expect(r"^REVISION\s+CHANGE-CAUSE\n(\d+\s+.*(\n|$)){2,}")),
    (r"rollout undo ", _expect(r"^deployment.apps/hello rolled back$")),
    (r"delete \$\(", _expect(r'^pod "hello-\S+" deleted$')),
    (r"logs deployment/hello", _expect(r"^(GET /healthz|hello \S+ listening on :8080)$")),
    (r"exec deployment/hello -- printenv HELLO_VERSION", _exact_version),
    (r"get ingress hello", _expect(r"^hello\s+k8py\s+hello\.k8py\.local\s+127\.0\.0\.1\s")),
    (r"wait --for=condition=Ready", _all_lines(r"pod/\S+ condition met")),
    (r"logs multi -c sidecar", _expect(r"^sidecar was here at ")),
    (r"exec multi -c web -- cat", _expect(r"^written by the init container$")),
    (r"logs config-demo", _both(_expect(r"^GREETING=Hello from a ConfigMap$"),
                                _expect(r"^colour = blue$"), _expect(r"^DB_PASSWORD$"))),
    (r"delete -f ", _all_lines(r'\S+ "\S+" deleted')),
]


def check_for(command: str) -> Check | None:
    return next((check for pattern, check in CHECKS if re.search(pattern, command)), None)


def advance(command: str, state: State) -> None:
    """What a successful command changes in the expected state."""
    if match := re.search(r"--replicas=(\d+)", command):
        state.replicas = int(match.group(1))
    elif match := re.search(r"set image \S+ \w+=k8py/hello:(\S+)", command):
        state.previous_version, state.version = state.version, match.group(1)
    elif "rollout undo" in command:
        state.previous_version, state.version = state.version, state.previous_version


@dataclass
class Runner:
    """Runs commands like a terminal in the repository would, with bash job control's subset."""

    cwd: Path
    env: dict[str, str]
    log_dir: Path
    timeout: float = 90.0
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def run_all(self, commands: list[Command], state: State) -> None:
        for command in commands:
            self.run(command.text, state)

    def run(self, text: str, state: State) -> None:
        if re.fullmatch(r"kill %\d*%?", text):
            self._kill_newest()
            return
        if text.endswith("&"):
            self._start_background(text[:-1].strip())
            return
        check = check_for(text)
        if check is None:
            raise AssertionError(f"README command without a check in tests/e2e/walkthrough.py: {text}")
        deadline = time.monotonic() + self.timeout
        attempts = 0
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                done = subprocess.run(["bash", "-c", text], cwd=self.cwd, env=self.env,
                                      capture_output=True, text=True,
                                      timeout=max(5.0, deadline - started))
                code, out, err = done.returncode, done.stdout, done.stderr
            except subprocess.TimeoutExpired as exc:
                code, out, err = -1, str(exc.stdout or ""), f"timed out: {exc}"
            problem = f"exit code {code}" if code != 0 else check(out, state)
            self.transcript.append(f"$ {text}   [{time.monotonic() - started:.1f}s, "
                                   f"{problem or 'ok'}]\n{out}{err}")
            if problem is None:
                advance(text, state)
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"`{text}` still wrong after {attempts} attempts: {problem}\n"
                                     f"stdout:\n{out}\nstderr:\n{err}")
            time.sleep(1.0)

    def _start_background(self, text: str) -> None:
        log = open(self.log_dir / f"job-{len(self.jobs) + 1}.log", "wb")
        self.jobs.append(subprocess.Popen(["bash", "-c", f"exec {text}"], cwd=self.cwd,
                                          env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        log.close()
        self.transcript.append(f"$ {text} &   [pid {self.jobs[-1].pid}]")

    def _kill_newest(self) -> None:
        live = [job for job in self.jobs if job.poll() is None]
        if not live:
            raise AssertionError("kill %1: no background job is running (it exited early: "
                                 f"see {self.log_dir}/job-*.log)")
        self._stop(live[-1])

    @staticmethod
    def _stop(job: subprocess.Popen[bytes]) -> None:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            try:
                job.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait(5)

    def close(self) -> None:
        for job in self.jobs:
            self._stop(job)
