"""Runs a version of a file (and its tests) on a temporary copy and scores how broken it is."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cancel import CancelToken
from ..config import Settings
from ..values import Target
from .runner import RunResult, command_for, find_test_file, run_and_capture
from .tracebacks import RunError, error_summary, parse_python_error

_PYTEST_COUNTS = re.compile(r"(\d+) (failed|passed|error|errors)\b")
_PASSED = re.compile(r"^PASSED (\S+)", re.MULTILINE)


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
            score += 100 if self.run.timed_out else 10
        if self.tests is not None and not self.tests.ok:
            score += max(self.failed_tests, 1)
        return score

    @property
    def summary(self) -> str:
        """The error in one line, e.g. 'ZeroDivisionError: division by zero'."""
        if self.syntax_error:
            return self.syntax_error
        if self.run is not None and not self.run.ok:
            if self.run.timed_out:
                return f"the program {self.run.describe()}"
            return error_summary(self.run.stderr) or self.run.describe()
        if self.tests is not None and not self.tests.ok:
            return f"{self.failed_tests} test(s) failed: " + (
                error_summary(self.tests.stdout + "\n" + self.tests.stderr) or "see output"
            )
        return "no errors"

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


def _per_test_timeout(run_timeout: float) -> list[str]:
    """A per-test timeout, so one hanging test does not hide which others passed."""
    if importlib.util.find_spec("pytest_timeout") is None or os.environ.get(
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
    ):
        return []
    return [f"--timeout={max(1.0, run_timeout / 3):g}"]


def _has_pytest() -> bool:
    return importlib.util.find_spec("pytest") is not None


class Checker:
    """Runs versions of one file in a scratch directory that is removed afterwards."""

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
        self._scratch: str | None = None
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
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    @property
    def can_run(self) -> bool:
        return (
            self.trusted
            and command_for(self.target.language, self.target.path, self.settings.run) is not None
        )

    def _dir(self) -> str:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="code-evolver-")
        return self._scratch

    def check(self, source: str, *, extra_tests: Mapping[str, str] | None = None) -> Check:
        """Score `source` as the file's content; `extra_tests` maps test paths to content."""
        error = syntax_error(source, self.target.language)
        if error or not self.can_run:
            return Check(error, None, None, None)
        scratch = Path(self._dir()) / f"v{len(os.listdir(self._dir()))}"
        copy = scratch / self.target.relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(source, encoding="utf-8")
        run = self._run_file(str(copy), str(scratch))
        tests, passed, failed, names = self._run_tests(scratch, extra_tests)
        stderr = (run.stderr if run is not None and not run.ok else "") or (
            tests.stdout + tests.stderr if tests is not None and not tests.ok else ""
        )
        found = (
            parse_python_error(stderr, self.target.path, aliases=[str(copy)]) if stderr else None
        )
        return Check(None, run, tests, found, failed, passed, names)

    def _env(self, scratch: str) -> dict[str, str]:
        env = dict(os.environ)
        paths = [scratch, os.path.dirname(self.target.path), self.target.workspace_root]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def _run(self, argv: Sequence[str], cwd: str, scratch: str) -> RunResult:
        fix = self.settings.fix
        result = run_and_capture(
            argv,
            cwd=cwd,
            timeout=fix.run_timeout,
            output_limit=fix.output_limit,
            env=self._env(scratch),
            strip_secrets=self.settings.strip_secrets,
            memory_limit_mb=fix.memory_limit_mb,
            cancel=self.cancel,
            stdin_data=self.stdin,
        )
        # The model and the user should see the real file's path, not the scratch copy's.
        real_dir = self.target.workspace_root
        return RunResult(
            tuple(a.replace(scratch, real_dir) for a in result.argv),
            result.exit_code,
            result.stdout.replace(scratch, real_dir),
            result.stderr.replace(scratch, real_dir),
            result.timed_out,
            result.cancelled,
            result.truncated,
            result.duration,
            result.timeout,
        )

    def _run_file(self, copy: str, scratch: str) -> RunResult | None:
        argv = command_for(self.target.language, copy, self.settings.run)
        if argv is None:
            return None
        if self.target.language == "python" and os.path.basename(copy).startswith("test_"):
            return None  # a test module is checked by running its tests
        return self._run(argv, self.target.workspace_root, scratch)

    def _run_tests(
        self, scratch: Path, extra: Mapping[str, str] | None
    ) -> tuple[RunResult | None, int, int, frozenset[str]]:
        files: list[str] = []
        if self.test_file is not None and self.test_file != self.target.path:
            rel = os.path.relpath(self.test_file, self.target.workspace_root)
            if not rel.startswith(".."):
                dest = scratch / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.test_file, dest)
                files.append(rel)
        elif self.test_file == self.target.path:
            files.append(self.target.relative)
        for rel, content in (extra or {}).items():
            dest = scratch / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content, encoding="utf-8")
            if rel not in files:
                files.append(rel)
        if not files:
            return None, 0, 0, frozenset()
        command = self.settings.test_command
        if command is not None:
            argv = [p.replace("{python}", sys.executable) for p in command]
            argv = [a for p in argv for a in ([*files] if p == "{test_file}" else [p])]
        elif _has_pytest():
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-rfEp",  # a summary line per test: "PASSED tests/test_mod.py::test_x"
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(scratch),
                *_per_test_timeout(self.settings.fix.run_timeout),
                *files,
            ]
        else:
            return None, 0, 0, frozenset()
        result = self._run(argv, str(scratch), str(scratch))
        counts = {kind: int(n) for n, kind in _PYTEST_COUNTS.findall(result.stdout[-2000:])}
        failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        # Cut output may have lost names: then only the count speaks.
        names = frozenset() if result.truncated else frozenset(_PASSED.findall(result.stdout))
        return result, counts.get("passed", 0), failed, names


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
