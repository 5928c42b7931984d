"""Runs a version of a file (and its tests) in a sandbox of the project and scores it."""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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
from ..sandbox.run_status import SETUP_FAILED
from ..values import Target
from .jobs import JobContext
from .runner import RunResult, command_for, find_test_file, run_and_capture
from .tracebacks import RunError, error_summary, parse_python_error

_PYTEST_COUNTS = re.compile(r"(\d+) (failed|passed|error|errors)\b")
_PASSED = re.compile(r"^PASSED (\S+)", re.MULTILINE)
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
    """The folder a run sees as the project: the workspace, or the file's folder outside it."""
    rel = os.path.relpath(target.path, target.workspace_root)
    inside = not (rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel))
    return target.workspace_root if inside else os.path.dirname(target.path)


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
        tests, passed, failed, names = self._run_tests(files, list(extra_tests or {}))
        stderr = (run.stderr if run is not None and not run.ok else "") or (
            tests.stdout + tests.stderr if tests is not None and not tests.ok else ""
        )
        found = parse_python_error(stderr, self.target.path) if stderr else None
        return Check(None, run, tests, found, failed, passed, names)

    def _env(self, place: RunPlace) -> dict[str, str]:
        env = without_server_paths(os.environ)
        paths = [place.root, os.path.dirname(place.path(self.relative))]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        for name in ("TMPDIR", "TEMP", "TMP"):
            env[name] = place.tmp  # removed with the run
        venv = self.python.venv
        if venv is not None:  # as if activated: a `python` the run starts is the project's too
            env["VIRTUAL_ENV"] = venv
            env["PATH"] = os.pathsep.join(
                [os.path.dirname(self.python.path), *filter(None, [env.get("PATH")])]
            )
        return env

    def _run(
        self, files: Mapping[str, str], argv_for: Callable[[RunPlace], list[str]]
    ) -> RunResult:
        if self.python.problem:
            return _unstartable(self.python.path, self.python.problem)
        result = self._run_once(files, argv_for)
        if (
            result.exit_code is None
            and result.stderr.startswith(SETUP_FAILED)
            and self.sandbox.isolation.namespaces
        ):
            # The probe's overlay worked, this project's folder cannot be one (a file system
            # overlayfs refuses as a layer): copies for this checker, said in the reason.
            self.sandbox.fall_back(result.stderr)
            result = self._run_once(files, argv_for)
        return result

    def _run_once(
        self, files: Mapping[str, str], argv_for: Callable[[RunPlace], list[str]]
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
                    cancel=self.cancel,
                    stdin_data=self.stdin,
                    namespace=place.namespace,
                    patient=True,
                )
        except ProjectTooLarge as exc:
            return _unstartable(
                self.python.path,
                f"{exc}; open a smaller folder as the workspace, or run where user namespaces "
                "are available (Linux), which need no copy",
            )
        # The model and the user should see the real file's path, not a copy's.
        return RunResult(
            tuple(place.to_real(a) for a in result.argv),
            result.exit_code,
            place.to_real(result.stdout),
            place.to_real(result.stderr),
            result.timed_out,
            result.cancelled,
            result.truncated,
            result.duration,
            result.timeout,
            result.cpu_limit,
        )

    def _command(self, path: str) -> list[str] | None:
        return command_for(self.target.language, path, self.settings.run, python=self.python.path)

    def _run_file(self, files: Mapping[str, str]) -> RunResult | None:
        if self._command(self.target.path) is None:
            return None
        if self.target.language == "python" and os.path.basename(self.relative).startswith("test_"):
            return None  # a test module is checked by running its tests
        return self._run(files, lambda place: self._command(place.path(self.relative)) or [])

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
            return [a for p in argv for a in ([*files] if p == "{test_file}" else [p])]
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
            "--rootdir",
            root,
            *timeout,
            *files,
        ]

    def _run_tests(
        self, files: Mapping[str, str], extra: list[str]
    ) -> tuple[RunResult | None, int, int, frozenset[str]]:
        tests = self._test_files(extra)
        if not tests or self._test_command(tests, self.root) is None:
            return None, 0, 0, frozenset()
        result = self._run(files, lambda place: self._test_command(tests, place.root) or [])
        counts = {kind: int(n) for n, kind in _PYTEST_COUNTS.findall(result.stdout[-2000:])}
        failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        # Cut output may have lost names: then only the count speaks.
        names = frozenset() if result.truncated else frozenset(_PASSED.findall(result.stdout))
        return result, counts.get("passed", 0), failed, names


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


@dataclass(frozen=True)
class CheckJob:
    """Run a file once (run_on_save, when it is opened or saved); a cancel stops the run."""

    target: Target
    source: str

    def perform(self, context: JobContext) -> Check:
        with Checker(
            self.target, context.settings, trusted=context.trusted, cancel=context.cancel
        ) as checker:
            return checker.check(self.source)
