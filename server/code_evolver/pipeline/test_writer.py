"""Generate Tests: pytest tests for an existing function, kept only when they run and pass."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from ..values import Region, Target
from .checker import read_text
from .extract import NoCodeInReply, extract_code
from .jobs import JobContext
from .lines import split_lines
from .model_session import ModelSession
from .prompts import FailedAttempt, tests_prompt
from .regions import region_text
from .stubs import enclosing_function

log = logging.getLogger("code_evolver.generate")

TEST_NAME = re.compile(r"^(?:async\s+)?def (test_\w+)", re.MULTILINE)


@dataclass(frozen=True)
class TestsOutcome:
    """Tests written for a function: the file to create or extend, and which tests pass."""

    path: str | None  # absolute path of the test file
    content: str | None  # its whole new content
    created: bool
    passed: tuple[str, ...]
    failed: tuple[str, ...]
    message: str
    attempts: int
    base: str | None = None  # the test file's text that `content` was built from


class TestWriter(ModelSession):
    """Writes pytest tests for the function at a line, runs them, keeps those that pass."""

    def write_tests(self, source: str, line: int) -> TestsOutcome:
        span = enclosing_function(source, line)
        if span is None:
            return TestsOutcome(
                None,
                None,
                False,
                (),
                (),
                "Put the cursor inside a function to generate tests for it.",
                0,
            )
        code = region_text(source, Region(span[0], span[1], False))
        name = defined_function_name(code, 0)
        if not name:
            return TestsOutcome(None, None, False, (), (), "Found no function at the cursor.", 0)
        module = module_name(self.target)
        test_path = os.path.join(
            self.target.workspace_root, "tests", f"test_{module.split('.')[-1]}.py"
        )
        existing = read_text(test_path)
        rel = os.path.relpath(test_path, self.target.workspace_root)
        attempts: list[FailedAttempt] = []
        max_attempts = self.settings.fix.max_attempts
        last: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
        for attempt in range(1, max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            self.on_step(f"Attempt {attempt}/{max_attempts}: writing tests for {name}")
            reply = self.client.generate(
                prompt=tests_prompt(
                    function_code=code,
                    module=module,
                    function_name=name,
                    attempts=attempts,
                    limit=self.settings.max_prompt_chars,
                ),
                model_key="generator",
                cancel=self.cancel,
            )
            try:
                tests = extract_code(reply, "python")
            except NoCodeInReply as exc:
                attempts.append(FailedAttempt(reply[:2000], str(exc)))
                continue
            content = (
                (existing.rstrip() + "\n\n\n" + tests.strip() + "\n")
                if existing
                else tests.strip() + "\n"
            )
            if not self.checker.can_run:
                return TestsOutcome(
                    test_path,
                    content,
                    existing is None,
                    (),
                    (),
                    f"Wrote tests for {name} to {rel} (not run: running code is "
                    "off for this workspace)",
                    attempt,
                    existing,
                )
            self.on_step(f"Attempt {attempt}/{max_attempts}: running the tests")
            check = self.checker.check(source, extra_tests={rel: content})
            passed, failed = _results(check.tests.stdout if check.tests else "", tests)
            last = (content, passed, failed)
            if check.tests is not None and check.tests.ok:
                return TestsOutcome(
                    test_path,
                    content,
                    existing is None,
                    passed,
                    (),
                    f"Wrote {len(passed)} passing test(s) for {name} to {rel}",
                    attempt,
                    existing,
                )
            attempts.append(FailedAttempt(tests, check.details))
            self.on_step(f"Tests fail: {check.summary}")
        if last is not None and last[1]:
            content, passed, failed = last
            return TestsOutcome(
                test_path,
                content,
                existing is None,
                passed,
                failed,
                f"Wrote tests for {name} to {rel}: {len(passed)} pass, "
                f"{len(failed)} fail ({', '.join(failed)}); the failing ones may "
                "point at a bug",
                max_attempts,
                existing,
            )
        return TestsOutcome(
            None,
            None,
            False,
            (),
            (),
            f"No working tests for {name} after {max_attempts} attempt(s); nothing was written.",
            max_attempts,
        )


def defined_function_name(code: str, line: int) -> str | None:
    match = re.search(
        r"^\s*(?:async\s+)?def\s+(\w+)", "\n".join(split_lines(code)[line:]), re.MULTILINE
    )
    return match.group(1) if match else None


def module_name(target: Target) -> str:
    rel = target.relative
    stem = os.path.splitext(rel)[0]
    return stem.replace(os.sep, ".").replace("/", ".")


def _results(output: str, tests: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names = TEST_NAME.findall(tests)
    failed = {m.group(1) for m in re.finditer(r"(?:FAILED|ERROR) \S*::(test_\w+)", output)}
    return (tuple(n for n in names if n not in failed), tuple(n for n in names if n in failed))


@dataclass(frozen=True)
class TestsJob:
    """Generate tests for the function at `line` of the file as the editor had it."""

    target: Target
    source: str
    line: int

    def perform(self, context: JobContext) -> TestsOutcome:
        with TestWriter.for_job(context, self.target) as writer:
            return writer.write_tests(self.source, self.line)
