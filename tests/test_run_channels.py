"""The verdict's channels: what the run's program writes cannot say how its sandbox was set up,
and in-run code reports on a private descriptor whose lines the program cannot sign."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from code_evolver import ConfigManager
from code_evolver.pipeline.checker import Checker
from code_evolver.pipeline.run_report import REPORT_VARIABLE
from code_evolver.pipeline.runner import run_and_capture
from code_evolver.sandbox import Sandbox, isolation_in_force
from code_evolver.values import Target
from sandbox_kit import MODES, use_mode

# What the sandbox's first process printed on stderr for a failed set-up before the status
# channel, and the exit code it used: a candidate can print and exit the same.
FORGED = """\
import os, sys
open("escaped.txt", "w").write("ran outside the overlay")
sys.stderr.write("code-evolver-sandbox: the overlay could not be mounted\\n")
sys.stderr.write("the sandbox for the run could not be set up (forged)\\n")
sys.exit(125)
"""

# In-run code as the wrapper and the pytest plugin do it: take the channel out of the
# environment, read the nonce, close its pipe, then report.
REPORTER = """\
import os
write_fd, nonce_fd = map(int, os.environ.pop({variable!r}).split(":"))
nonce = os.read(nonce_fd, 100).decode().strip()
os.close(nonce_fd)
os.set_inheritable(write_fd, False)
os.write(write_fd, (nonce + " signed one\\n").encode())
os.write(write_fd, b"unsigned line\\n")
os.write(write_fd, b"0123456789abcdef0123456789abcdef forged\\n")
os.write(write_fd, (nonce + " signed two\\n").encode())
print("in the environment:", {variable!r} in os.environ)
"""


@pytest.fixture
def namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode("namespaces", monkeypatch)


def _checker(project: Path) -> Checker:
    target = Target(str(project / "prog.py"), "python", str(project))
    return Checker(target, ConfigManager().settings)


def test_a_program_faking_a_failed_set_up_is_a_failed_program_not_a_second_run(
    tmp_path: Path, namespaces: None
) -> None:
    (tmp_path / "prog.py").write_text(FORGED)
    with _checker(tmp_path) as checker:
        check = checker.check(FORGED)
        assert checker.sandbox.isolation.namespaces  # no fall back to the copy
    assert check.run is not None and check.run.exit_code == 125
    assert not check.run.setup_failed
    # The only run was in the overlay: nothing reached the real folder.
    assert not (tmp_path / "escaped.txt").exists()


def test_the_set_up_status_pipe_is_closed_before_the_program_starts(
    tmp_path: Path, namespaces: None
) -> None:
    sandbox = Sandbox(str(tmp_path), isolation_in_force(), network=False)
    program = textwrap.dedent(
        """\
        import os, stat
        for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
            try:
                mode = os.fstat(fd).st_mode
            except OSError:
                continue
            print(fd, "pipe" if stat.S_ISFIFO(mode) else "other")
        """
    )
    try:
        with sandbox.place({"prog.py": program}) as place:
            result = run_and_capture(
                [sys.executable, place.path("prog.py")], cwd=place.root, namespace=place.namespace
            )
    finally:
        sandbox.close()
    pipes = [line.split()[0] for line in result.stdout.splitlines() if line.endswith("pipe")]
    assert result.exit_code == 0, result.stderr
    assert pipes == ["1", "2"]  # its stdout and stderr; stdin is /dev/null, no status pipe


@pytest.mark.parametrize("mode", MODES)
def test_standard_input_still_reaches_the_program(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mode(mode, monkeypatch)
    sandbox = Sandbox(str(tmp_path), isolation_in_force(), network=False)
    try:
        with sandbox.place({"prog.py": "print(input().upper())"}) as place:
            result = run_and_capture(
                [sys.executable, place.path("prog.py")],
                cwd=place.root,
                namespace=place.namespace,
                stdin_data="ada\n",
            )
    finally:
        sandbox.close()
    assert result.exit_code == 0 and result.stdout == "ADA\n", result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_only_lines_signed_with_the_runs_nonce_are_its_report(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mode(mode, monkeypatch)
    program = REPORTER.format(variable=REPORT_VARIABLE)
    sandbox = Sandbox(str(tmp_path), isolation_in_force(), network=False)
    try:
        with sandbox.place({"prog.py": program}) as place:
            result = run_and_capture(
                [sys.executable, place.path("prog.py")],
                cwd=place.root,
                namespace=place.namespace,
                report=True,
            )
            unasked = run_and_capture(
                [sys.executable, "-c", "import os; print(os.environ.get('CODE_EVOLVER_REPORT'))"],
                cwd=place.root,
                namespace=place.namespace,
            )
    finally:
        sandbox.close()
    assert result.exit_code == 0, result.stderr
    assert result.report == ("signed one", "signed two")
    assert result.stdout == "in the environment: False\n"
    assert unasked.report is None and unasked.stdout == "None\n"


def test_a_report_nobody_writes_is_empty_not_missing(tmp_path: Path) -> None:
    """The runner hands over what came; an absent report is the reader's failure to judge."""
    result = run_and_capture(
        [sys.executable, "-c", "import os; os._exit(0)"], cwd=str(tmp_path), report=True
    )
    assert result.exit_code == 0 and result.report == ()
    assert os.listdir(tmp_path) == []
