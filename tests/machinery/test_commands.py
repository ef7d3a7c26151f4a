"""machinery.commands.run_command: helper programs never hang or crash a node agent."""

from __future__ import annotations

from machinery.commands import run_command

SCRIPT = "echo data; echo warning >&2; exit ${1:-0}"


async def test_output_is_stdout_and_stderr_together_by_default() -> None:
    assert await run_command(["sh", "-c", SCRIPT, "-", "0"]) == (0, "data\nwarning")
    assert await run_command(["sh", "-c", "cat"], stdin=b"in\n") == (0, "in")


async def test_separate_stderr_keeps_warnings_out_of_the_data() -> None:
    assert await run_command(["sh", "-c", SCRIPT, "-", "0"], separate_stderr=True) == \
        (0, "data\n")
    assert await run_command(["sh", "-c", SCRIPT, "-", "3"], separate_stderr=True) == \
        (3, "warning")


async def test_a_missing_program_is_127_and_a_stuck_one_124() -> None:
    code, text = await run_command(["/nonexistent/k8py-helper"])
    assert code == 127 and "k8py-helper" in text
    assert await run_command(["sleep", "5"], timeout=0.2) == (124, "sleep timed out after 0.2s")
