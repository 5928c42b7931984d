"""Runs a version of a file (and its tests) in a sandbox of the project and scores it."""

from __future__ import annotations

import ast
import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..cancel import CancelToken
from ..config import Settings
from ..sandbox import (
    ProjectTooLarge,
    RunPlace,
    Sandbox,
    has_pytest,
    isolation_in_force,
    project_python,
    without_server_paths,
)
from ..sandbox.inrun_files import INRUN_FOLDER, PYTEST_PLUGIN, SCRIPT_WRAPPER
from ..values import Target
from .completion import (
    PytestReport,
    judged,
    pytest_unproven,
    read_test_report,
    runs_pytest,
    script_unproven,
    summary_counts,
    with_plugin,
)
from .runner import RunResult, command_for, find_test_file, run_and_capture
from .tracebacks import RunError, error_summary, parse_python_error

# A niced run on a busy machine waits its turn for the CPU: the wall clock only catches a run
# that sleeps or blocks forever, well after the CPU limit (fix.run_timeout) would have.
_WALL_FACTOR, _WALL_MINIMUM = 6.0, 30.0


@dataclass(frozen=True)
class Check:
    """How one version of the file fared: syntax, run, and tests."""

    syntax_error: str | None
    run: RunResult | None
    tests: RunResult | None
    error: RunError | None
    failed_tests: int = 0
    passed_tests: int = 0
    # The ids of the tests that passed, when the runner named them (pytest -rp), else empty.
    passed_names: frozenset[str] = frozenset()
    # Each test's outcome by node id (passed, failed, skipped, xfailed, xpassed, error; a file
    # that failed to collect or was skipped whole by its id) and how many tests pytest
    # collected, as the report plugin said them (completion.py); empty and None without it.
    outcomes: Mapping[str, str] = field(default_factory=dict)
    collected: int | None = None

    @property
    def failures(self) -> int:
        """A score to compare versions by: lower is better, 0 means nothing is known broken."""
        if self.syntax_error:
            return 1000
        score = 0
        if self.run is not None and not self.run.ok:
            score += 100 if self.run.hit_limit else 10
        if self.tests is not None and not self.tests.ok:
            score += max(self.failed_tests, 1)
        return score

    @property
    def summary(self) -> str:
        """The error in one line, e.g. 'ZeroDivisionError: division by zero'."""
        if self.syntax_error:
            return self.syntax_error
        if self.run is not None and not self.run.ok:
            if self.run.hit_limit:
                return f"the program {self.run.describe()}{_which_limit(self.run)}"
            return error_summary(self.run.stderr) or self.run.describe()
        if self.tests is not None and not self.tests.ok:
            if self.tests.hit_limit:
                return f"the tests: {self.tests.describe()}{_which_limit(self.tests)}"
            if not self.failed_tests and self.tests.exit_code == 0:
                return f"the tests: {self.tests.describe()}"  # they did not prove they passed
            return f"{self.failed_tests} test(s) failed: " + (
                error_summary(self.tests.stdout + "\n" + self.tests.stderr) or "see output"
            )
        return "no errors"

    @property
    def checked_by(self) -> str:
        """What a clean check rests on: 'the file ran cleanly; 4 test(s) in test_x.py pass'."""
        parts = []
        if self.run is not None and self.run.ok:
            parts.append("the file ran cleanly")
        if self.tests is not None and self.tests.ok and self.passed_tests:
            files = sorted({name.split("::", 1)[0] for name in self.passed_names})
            where = f" in {', '.join(files)}" if files else ""
            parts.append(f"{self.passed_tests} test(s){where} pass")
        return "; ".join(parts) or "nothing ran"

    @property
    def details(self) -> str:
        """The full output the model should see."""
        parts = []
        if self.syntax_error:
            parts.append(self.syntax_error)
        for label, result in (("run", self.run), ("tests", self.tests)):
            if result is not None and not result.ok:
                parts.append(
                    f"[{label}: {' '.join(result.argv[-2:])}] {result.describe()}\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-4000:]}".strip()
                )
        return "\n\n".join(parts) or "no errors"


def _which_limit(result: RunResult) -> str:
    if result.over_limit == "processes":
        return " (fix.max_processes, threads included)"
    if result.over_limit == "cpu":
        return " (the CPU-time limit over all of its processes, fix.run_timeout)"
    if result.out_of_cpu:
        return " (the CPU-time limit, fix.run_timeout)"
    return (
        " (the wall-clock limit, 6 x fix.run_timeout but at least 30 s; time spent waiting"
        " for a busy CPU is not counted)"
    )


def syntax_error(source: str, language: str) -> str | None:
    if language != "python":
        return None
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"SyntaxError: {exc or type(exc).__name__}"
    return None


def run_limits(run_timeout: float) -> tuple[float, int | None]:
    """(wall-clock seconds, CPU seconds) for a run: the CPU limit is fix.run_timeout."""
    if math.isinf(run_timeout) and run_timeout > 0:
        return math.inf, None
    wall = max(_WALL_MINIMUM, _WALL_FACTOR * run_timeout)
    return wall, max(1, math.ceil(run_timeout))


def project_root(target: Target) -> str:
    """The folder a run sees as the project: the workspace, or the file's folder outside it.
    A workspace named by a link holds the file named by its real path too; the folder is
    then named as the file's path names it, so that the file's path relative to it holds."""
    rel = os.path.relpath(target.path, target.workspace_root)
    inside = not (rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel))
    if inside:
        return target.workspace_root
    workspace = os.path.realpath(target.workspace_root)
    folder = os.path.dirname(os.path.abspath(target.path))
    while True:
        if os.path.realpath(folder) == workspace:
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.path.dirname(target.path)
        folder = parent


class Checker:
    """Runs versions of one file, each run in a fresh sandbox of the project (sandbox/)."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        *,
        trusted: bool = True,
        cancel: CancelToken | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.trusted = trusted
        self.cancel = cancel
        self.root = project_root(target)
        self.relative = os.path.relpath(target.path, self.root)
        self.python = project_python(target.workspace_root, settings.python)
        self._sandbox: Sandbox | None = None
        self.stdin = stdin_text(settings.fix.stdin, target.workspace_root)
        self.test_file = (
            find_test_file(target.path, target.workspace_root)
            if target.language == "python"
            else None
        )

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            fix = self.settings.fix
            isolation = isolation_in_force(fix.isolation)
            self._sandbox = Sandbox(self.root, isolation, network=fix.network)
        return self._sandbox

    @property
    def can_run(self) -> bool:
        return (
            self.trusted
            and command_for(self.target.language, self.target.path, self.settings.run) is not None
        )

    def check(self, source: str, *, extra_tests: Mapping[str, str] | None = None) -> Check:
        """Score `source` as the file's content; `extra_tests` maps test paths to content."""
        error = syntax_error(source, self.target.language)
        if error or not self.can_run:
            return Check(error, None, None, None)
        files = {self.relative: source, **(extra_tests or {})}
        run = self._run_file(files)
        tests, said = self._run_tests(files, list(extra_tests or {}))
        stderr = (run.stderr if run is not None and not run.ok else "") or (
            tests.stdout + tests.stderr if tests is not None and not tests.ok else ""
        )
        found = parse_python_error(stderr, self.target.path) if stderr else None
        return Check(
            None,
            run,
            tests,
            found,
            said.failed,
            said.passed,
            said.passed_names,
            said.outcomes,
            said.collected,
        )

    def _env(self, place: RunPlace) -> dict[str, str]:
        return place.environment(
            without_server_paths(os.environ),
            python=self.python.path,
            venv=self.python.venv,
            # INRUN_FOLDER: where pytest finds the report plugin (-p _code_evolver_pytest).
            import_paths=[place.root, os.path.dirname(place.path(self.relative)), INRUN_FOLDER],
        )

    def run_in_sandbox(
        self,
        files: Mapping[str, str],
        argv_for: Callable[[RunPlace], list[str]],
        *,
        report: bool = False,
    ) -> RunResult:
        """Any command in a fresh place of the project with `files` (relative path -> text) in
        it, exactly as the file's own runs: same environment, limits, isolation and fallback.
        `report`: the run gets the private report channel (runner.py, run_report.py)."""
        if self.python.problem:
            return _unstartable(self.python.path, self.python.problem)
        result = self._run_once(files, argv_for, report)
        if result.setup_failed and self.sandbox.isolation.namespaces:
            # The probe's overlay worked, this project's folder cannot be one (a file system
            # overlayfs refuses as a layer): copies for this checker, said in the reason. Only
            # the sandbox's own first process can say so, before the program started.
            self.sandbox.fall_back(result.stderr)
            result = self._run_once(files, argv_for, report)
        return result

    def _run_once(
        self, files: Mapping[str, str], argv_for: Callable[[RunPlace], list[str]], report: bool
    ) -> RunResult:
        fix = self.settings.fix
        wall, cpu = run_limits(fix.run_timeout)
        try:
            with self.sandbox.place(files) as place:
                argv = argv_for(place)
                result = run_and_capture(
                    argv,
                    cwd=place.root,
                    timeout=wall,
                    cpu_limit_s=cpu,
                    output_limit=fix.output_limit,
                    env=self._env(place),
                    strip_secrets=self.settings.strip_secrets,
                    memory_limit_mb=fix.memory_limit_mb,
                    max_processes=fix.max_processes,
                    cancel=self.cancel,
                    stdin_data=self.stdin,
                    namespace=place.namespace,
                    patient=True,
                    report=report,
                )
        except ProjectTooLarge as exc:
            return _unstartable(
                self.python.path,
                f"{exc}; open a smaller folder as the workspace, or run where user namespaces "
                "are available (Linux), which need no copy",
            )
        # The model and the user should see the real file's path, not a copy's.
        return dataclasses.replace(
            result,
            argv=tuple(place.to_real(a) for a in result.argv),
            stdout=place.to_real(result.stdout),
            stderr=place.to_real(result.stderr),
            report=(None if result.report is None else tuple(map(place.to_real, result.report))),
        )

    def _command(self, path: str) -> list[str] | None:
        return command_for(self.target.language, path, self.settings.run, python=self.python.path)

    def _run_file(self, files: Mapping[str, str]) -> RunResult | None:
        if self._command(self.target.path) is None:
            return None
        if self.target.language == "python" and os.path.basename(self.relative).startswith("test_"):
            return None  # a test module is checked by running its tests
        wrapped = SCRIPT_WRAPPER in (self._command(self.target.path) or ())
        result = self.run_in_sandbox(
            files, lambda place: self._command(place.path(self.relative)) or [], report=wrapped
        )
        if not wrapped:
            return result  # a configured command: its exit code is all it says
        # The user runs `python FILE`, not the wrapper: so do the model and the messages.
        argv = tuple(a for a in result.argv if a != SCRIPT_WRAPPER)
        return judged(dataclasses.replace(result, argv=argv), script_unproven(result))

    def _test_files(self, extra: list[str]) -> list[str]:
        files: list[str] = []
        if self.test_file is not None and self.test_file != self.target.path:
            rel = os.path.relpath(self.test_file, self.root)
            if not rel.startswith(".."):
                files.append(rel)
        elif self.test_file == self.target.path:
            files.append(self.relative)
        files.extend(rel for rel in extra if rel not in files)
        return files

    def _test_command(self, files: list[str], root: str) -> list[str] | None:
        python = self.python.path
        command = self.settings.test_command
        if command is not None:
            argv = [p.replace("{python}", python) for p in command]
            argv = [a for p in argv for a in ([*files] if p == "{test_file}" else [p])]
            return with_plugin(argv)  # when it runs pytest: its report, beside the exit code
        pytest, pytest_timeout = has_pytest(python, without_server_paths(os.environ))
        if not pytest:
            return None
        timeout = []
        if pytest_timeout and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            # A per-test timeout, so one hanging test does not hide which others passed. It is
            # wall-clock time, so it is a share of the run's wall-clock ceiling: a test waiting
            # for a busy CPU must not hit it first.
            wall, _ = run_limits(self.settings.fix.run_timeout)
            if not math.isinf(wall):
                timeout = [f"--timeout={max(1.0, wall / 3):g}"]
        return [
            python,
            "-m",
            "pytest",
            "-q",
            "-rfEp",  # a summary line per test: "PASSED tests/test_mod.py::test_x"
            "-p",
            "no:cacheprovider",
            "-p",
            PYTEST_PLUGIN,  # each test's outcome and the session's end, on the private channel
            "--rootdir",
            root,
            *timeout,
            *files,
        ]

    def _run_tests(
        self, files: Mapping[str, str], extra: list[str]
    ) -> tuple[RunResult | None, PytestReport]:
        """The test run, judged by the plugin's report (completion.py), also a configured
        test_command that runs pytest; any other configured command by its exit code."""
        tests = self._test_files(extra)
        command = self._test_command(tests, self.root) if tests else None
        if command is None:
            return None, PytestReport()
        plugin = runs_pytest(command)
        result = self.run_in_sandbox(
            files, lambda place: self._test_command(tests, place.root) or [], report=plugin
        )
        said = read_test_report(result.report)
        if plugin:  # ours, or a configured command running pytest: the report judges it
            # The command as the user would type it: the model is not shown our plugin.
            shown = _without_plugin(result.argv)
            return judged(
                dataclasses.replace(result, argv=shown), pytest_unproven(result, said)
            ), said
        return result, summary_counts(result.stdout, result.truncated)


def _without_plugin(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`argv` without its `-p _code_evolver_pytest` pair."""
    out: list[str] = []
    for part in argv:
        if part == PYTEST_PLUGIN and out and out[-1] == "-p":
            out.pop()
            continue
        out.append(part)
    return tuple(out)


def _unstartable(program: str, reason: str) -> RunResult:
    return RunResult((program,), None, "", reason, False, False, False, 0.0)


def read_text(path: str) -> str | None:
    """A file's text, or None when it is missing or not UTF-8."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def stdin_text(value: str | None, root: str) -> str | None:
    """fix.stdin as runs read it: the file it names (relative to the workspace), or the text."""
    if value is None:
        return None
    if "\n" not in value and value.strip():
        path = os.path.join(root, os.path.expanduser(value.strip()))
        if os.path.isfile(path):
            return read_text(path)
    return value
