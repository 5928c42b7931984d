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
from .test_merge import MergedTests, merge_tests

log = logging.getLogger("code_evolver.generate")

TEST_NAME = re.compile(r"^(?:async\s+)?def (test_\w+)", re.MULTILINE)
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR) ([^\s:]+)::(\S+)", re.MULTILINE)


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
        last: tuple[str, tuple[str, ...], tuple[str, ...], str] | None = None
        refused: str | None = None  # the last attempt's tests would have shadowed the user's
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
            merged = merge_tests(existing, tests, rel)
            if merged.content is None:
                refused = merged.problem
                attempts.append(FailedAttempt(tests, f"{merged.problem}; use other names"))
                self.on_step(f"Tests refused: {merged.problem}")
                continue
            content, renames, refused = merged.content, merged.renames_said(), None
            if not self.checker.can_run:
                return TestsOutcome(
                    test_path,
                    content,
                    existing is None,
                    (),
                    (),
                    f"Wrote tests for {name} to {rel} (not run: running code is "
                    f"off for this workspace){renames}",
                    attempt,
                    existing,
                )
            self.on_step(f"Attempt {attempt}/{max_attempts}: running the tests")
            check = self.checker.check(source, extra_tests={rel: content})
            passed, failed = _results(check.tests.stdout if check.tests else "", merged, rel)
            last = (content, passed, failed, renames)
            if check.tests is not None and check.tests.ok:
                return TestsOutcome(
                    test_path,
                    content,
                    existing is None,
                    passed,
                    (),
                    f"Wrote {len(passed)} passing test(s) for {name} to {rel}{renames}",
                    attempt,
                    existing,
                )
            attempts.append(FailedAttempt(merged.tests, check.details))
            self.on_step(f"Tests fail: {check.summary}")
        if last is not None and last[1]:
            content, passed, failed, renames = last
            return TestsOutcome(
                test_path,
                content,
                existing is None,
                passed,
                failed,
                f"Wrote tests for {name} to {rel}: {len(passed)} pass, "
                f"{len(failed)} fail ({', '.join(failed)}); the failing ones may "
                f"point at a bug{renames}",
                max_attempts,
                existing,
            )
        return TestsOutcome(
            None,
            None,
            False,
            (),
            (),
            f"No working tests for {name} after {max_attempts} attempt(s); nothing was written"
            + (f" ({refused})." if refused else "."),
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


def _results(output: str, merged: MergedTests, rel: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(passed, failed) ids of the appended tests, as pytest's summary names them in `rel`
    ("test_x", "TestY::test_z[1]"); the user's own tests are not among them."""
    ours = merged.names
    path = rel.replace("\\", "/")
    found: dict[str, bool] = {}
    for outcome, where, test in _SUMMARY.findall(output):
        if where == path and re.split(r"::|\[", test, maxsplit=1)[0] in ours:
            found.setdefault(test, outcome == "PASSED")
    if not found:  # no summary (cut output, another test command): the names in the code
        names = TEST_NAME.findall(merged.tests)
        failed = {m.group(1) for m in re.finditer(r"(?:FAILED|ERROR) \S*::(test_\w+)", output)}
        return tuple(n for n in names if n not in failed), tuple(n for n in names if n in failed)
    return (
        tuple(t for t, ok in found.items() if ok),
        tuple(t for t, ok in found.items() if not ok),
    )


@dataclass(frozen=True)
class TestsJob:
    """Generate tests for the function at `line` of the file as the editor had it."""

    target: Target
    source: str
    line: int

    def perform(self, context: JobContext) -> TestsOutcome:
        with TestWriter.for_job(context, self.target) as writer:
            return writer.write_tests(self.source, self.line)
