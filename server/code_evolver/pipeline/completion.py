"""Whether a run proved it finished: what the script wrapper and the pytest plugin
(sandbox/inrun/) said on the run's private channel, and the run as judged by it.

An exit code is the program's to choose (`os._exit(0)` half-way), so a Python file's run is
clean only when the wrapper saw the module return or raise SystemExit(0), and a test run passes
only when the plugin saw the session end with every collected test accounted for.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

from ..sandbox.inrun_files import PYTEST_PLUGIN
from .runner import RunResult

__all__ = [
    "JudgedRun",
    "PytestReport",
    "judged",
    "pytest_unproven",
    "read_test_report",
    "script_unproven",
    "summary_counts",
    "with_plugin",
]

_PYTEST_COUNTS = re.compile(r"(\d+) (failed|passed|error|errors)\b")
_PASSED = re.compile(r"^PASSED (\S+)", re.MULTILINE)
# How bad each outcome of a test is: of a test's phases (setup, call, teardown) the worst one
# stands for the test.
_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "xpassed": 3, "failed": 4, "error": 5}
_PYTEST_STATUS = {
    1: "some tests failed",
    2: "pytest was interrupted",
    3: "pytest had an internal error",
    4: "pytest was given a wrong option or path",
    5: "pytest collected no tests",
}


@dataclass(frozen=True)
class JudgedRun(RunResult):
    """A run whose clean exit also needs its proof: `unproven` says why the proof is missing
    ("" when it came). A run that failed by its exit code stays as it was."""

    unproven: str = ""

    @property
    def ok(self) -> bool:
        return super().ok and not self.unproven

    def describe(self) -> str:
        if super().ok and self.unproven:
            return self.unproven + (" (output was truncated)" if self.truncated else "")
        return super().describe()


def judged(result: RunResult, unproven: str) -> RunResult:
    """`result` with the verdict of its proof; the result itself when nothing is missing."""
    if not unproven:
        return result
    values = {f.name: getattr(result, f.name) for f in fields(result)}
    return JudgedRun(**values, unproven=unproven)


def script_unproven(result: RunResult) -> str:
    """Why a wrapped script's run is not clean although it exited 0, or "" (see
    _code_evolver_script.py: "end" when the module returned, "exit N" on SystemExit)."""
    if not result.ok:
        return ""  # failing already, and said by its exit code
    said = result.report or ()
    if said and said[-1] in ("end", "exit 0"):
        return ""
    return (
        "the program stopped before reaching its end (os._exit or a signal), so the exit "
        "code 0 does not show it ran cleanly"
    )


@dataclass(frozen=True)
class PytestReport:
    """What the pytest plugin said: each test's outcome by node id, how many were collected,
    and the session's exit status (None: the session never said it ended)."""

    outcomes: Mapping[str, str] = field(default_factory=dict)
    collected: int | None = None
    exit_status: int | None = None
    passed_names: frozenset[str] = frozenset()
    passed: int = 0
    failed: int = 0  # failed tests, errors in set-up or teardown, files that failed to collect

    @property
    def unreported(self) -> int:
        """Collected tests that never reported an outcome (the session was cut short)."""
        tests = sum(1 for node in self.outcomes if "::" in node)
        return max(0, (self.collected or 0) - tests)


def read_test_report(lines: Sequence[str] | None) -> PytestReport:
    """The plugin's lines (_code_evolver_pytest.py) as a PytestReport; no lines, no outcomes."""
    outcomes: dict[str, str] = {}
    passed: set[str] = set()
    collected: int | None = None
    status: int | None = None
    failed = 0
    for line in lines or ():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        node = event.get("test", event.get("collect"))
        outcome = event.get("outcome")
        if isinstance(node, str) and outcome in _RANK:
            if _RANK[outcome] >= _RANK.get(outcomes.get(node, "passed"), 0):
                outcomes[node] = outcome
            if outcome == "passed" and event.get("when") == "call":
                passed.add(node)
            failed += outcome in ("failed", "error")
        if isinstance(event.get("collected"), int):
            collected = max(collected or 0, event["collected"])
        if isinstance(event.get("end"), int):
            status = event["end"]
    return PytestReport(outcomes, collected, status, frozenset(passed), len(passed), failed)


def summary_counts(stdout: str, truncated: bool) -> PytestReport:
    """The counts of pytest's last line ("1 failed, 3 passed") and the `-rp` PASSED names: all
    a command without the plugin tells (a configured test_command)."""
    counts = {kind: int(n) for n, kind in _PYTEST_COUNTS.findall(stdout[-2000:])}
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    # Cut output may have lost names: then only the count speaks.
    names = frozenset() if truncated else frozenset(_PASSED.findall(stdout))
    return PytestReport(passed_names=names, passed=counts.get("passed", 0), failed=failed)


def pytest_unproven(result: RunResult, report: PytestReport) -> str:
    """Why a test run is not a pass although pytest exited 0, or ""."""
    if not result.ok:
        return ""
    if report.exit_status is None:
        return (
            "pytest stopped before its session ended (os._exit or a signal in a test or in "
            "the code it runs), so no test result can be trusted"
        )
    if report.exit_status != 0:
        return _PYTEST_STATUS.get(
            report.exit_status, f"pytest ended with status {report.exit_status}"
        )
    if report.unreported:
        return (
            f"{report.unreported} of the {report.collected} collected test(s) never reported "
            "an outcome (the session was cut short)"
        )
    return ""


def with_plugin(argv: Sequence[str]) -> list[str]:
    """A configured command that runs pytest, with the report plugin loaded (-p) after its
    `pytest` word; any other command as it is."""
    for index, part in enumerate(argv):
        name = os.path.basename(part)
        if name in ("pytest", "py.test") or (
            name == "-m" and index + 1 < len(argv) and argv[index + 1] == "pytest"
        ):
            at = index + (2 if name == "-m" else 1)
            return [*argv[:at], "-p", PYTEST_PLUGIN, *argv[at:]]
    return list(argv)


def runs_pytest(argv: Sequence[str]) -> bool:
    return with_plugin(argv) != list(argv)
