"""The fix loop: run, ask the generator, verify on a copy, escalate with the new error."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..values import DiagnosticInfo, Outcome, Region
from .checker import Check
from .extract import NoCodeInReply, extract_code
from .model_session import ModelSession
from .prompts import FailedAttempt, RunInfo, fix_prompt
from .regions import (
    choose_region,
    defines_name,
    first_definition_name,
    lost_definitions,
    merge_definitions,
    narrow_to_function,
    region_context,
    region_text,
    shifted_region,
    splice,
)

log = logging.getLogger("code_evolver.fix")


def run_info(check: Check) -> RunInfo | None:
    result = check.run if check.run is not None and not check.run.ok else check.tests
    if result is None:
        result = check.run
    if result is None:
        return None
    note = "timed out and was stopped" if result.timed_out else ""
    return RunInfo(" ".join(result.argv), result.exit_code, result.stdout, result.stderr, note)


class FixSession(ModelSession):
    """One fix request: owns the checker (scratch files) and the attempt history."""

    def __init__(self, *args: Any, max_attempts: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_attempts = max_attempts or self.settings.fix.max_attempts

    def _not_run(self) -> str:
        """Why the file is not run, or "" when it is."""
        if self.checker.can_run:
            return ""
        if not self.checker.trusted:
            return "running code is not available in an untrusted workspace"
        language = self.target.language or "these"
        return (
            f"running {language} files is not available "
            f"(no run command; add one under run.{language} in config.yaml)"
        )

    def fix(
        self, source: str, diagnostics: Sequence[DiagnosticInfo], *, whole_file: bool = False
    ) -> Outcome:
        self.on_step(f"Running {self.target.relative}")
        before = self.checker.check(source)
        region = self._region(source, diagnostics, before, whole_file)
        original = region_text(source, region)
        refusal = self._refusal(before, diagnostics, region, original)
        if refusal is not None:
            return Outcome(None, region, None, refusal, 0, before)
        name = None if region.whole_file else first_definition_name(original, self.target.language)
        attempts: list[FailedAttempt] = []
        endpoints: list[str] = []
        last_problem = before.summary if before.failures else "no model reply yet"
        for attempt in range(1, self.max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            label = f"Attempt {attempt}/{self.max_attempts}"
            self.on_step(f"{label}: asking {self.client.role_settings('generator').model}")
            prompt = fix_prompt(
                code=original,
                language=self.target.language,
                path=self.target.relative,
                diagnostics=diagnostics,
                run=run_info(before) if before.failures else None,
                attempts=attempts,
                whole_file=region.whole_file,
                context="" if region.whole_file else region_context(source, region),
                limit=self.settings.max_prompt_chars,
            )
            reply = self.client.generate_full(
                prompt=prompt, model_key="generator", cancel=self.cancel, on_step=self.on_step
            )
            endpoints.append(reply.endpoint)
            candidate, code, problem = self._candidate(source, region, name, original, reply.text)
            if problem is None:
                self.on_step(f"{label}: verifying")
                after = self.checker.check(candidate)
                if _better(before, after, bool(diagnostics)):
                    replacement = region_text(candidate, shifted_region(region, source, candidate))
                    message = self._fixed_message(attempt, reply.model, reply.endpoint, after)
                    return Outcome(
                        candidate,
                        region,
                        replacement,
                        message,
                        attempt,
                        before,
                        after,
                        tuple(endpoints),
                    )
                last_problem = after.summary
                attempts.append(FailedAttempt(code, after.details))
                self.on_step(f"Still has errors: {after.summary}")
            else:
                last_problem = problem
                attempts.append(FailedAttempt(code, problem))
                self.on_step(f"{label}: {problem}")
        return Outcome(
            None,
            region,
            None,
            f"No fix after {self.max_attempts} attempt(s); the file is unchanged. "
            f"Last error: {last_problem}",
            self.max_attempts,
            before,
            None,
            tuple(endpoints),
        )

    def _region(
        self,
        source: str,
        diagnostics: Sequence[DiagnosticInfo],
        before: Check,
        whole_file: bool,
    ) -> Region:
        """The function around the first diagnosed (or failing) line, or the whole file."""
        lines = [d.line - 1 for d in diagnostics]
        if before.error is not None and before.error.line is not None:
            lines.append(before.error.line)
        region = choose_region(source, lines, whole_file, self.target.language)
        # The code to fix must reach the model whole, with room left for the errors.
        if region.whole_file and len(source) > self._room():
            region = choose_region(source, lines, False, self.target.language)
        return region

    def _room(self) -> int:
        return self.settings.max_prompt_chars * 3 // 4

    def _refusal(
        self,
        before: Check,
        diagnostics: Sequence[DiagnosticInfo],
        region: Region,
        original: str,
    ) -> str | None:
        """Why no model is asked at all: nothing is wrong, or the code is too large."""
        not_run = self._not_run()
        if before.failures == 0 and not diagnostics:
            if not_run:
                return f"{not_run} and no diagnostics were given: nothing to fix."
            return (
                f"{self.target.relative} runs without errors and "
                "no diagnostics were given: nothing to fix."
            )
        if len(original) > self._room():
            name = "The file" if region.whole_file else f"{first_definition_name(original)}()"
            return (
                f"{name} is too large to fix "
                f"({len(original)} characters; max_prompt_chars is "
                f"{self.settings.max_prompt_chars}): put the cursor on a diagnostic in a "
                "smaller function, or raise max_prompt_chars."
            )
        return None

    def _candidate(
        self, source: str, region: Region, name: str | None, original: str, reply: str
    ) -> tuple[str, str, str | None]:
        """(the file with the reply in place, the reply's code, the problem or None)."""
        try:
            code = extract_code(reply, self.target.language, original=original)
        except NoCodeInReply as exc:
            return source, reply[:2000], f"the model's reply held no code ({exc})"
        language = self.target.language
        if region.whole_file:
            candidate = merge_definitions(source, code, language)
        else:
            narrowed = narrow_to_function(code, name, language)
            if name is not None and defines_name(narrowed, name, language) is False:
                return source, code, f"the reply does not define {name}()"
            candidate = splice(source, region, narrowed)
        lost = lost_definitions(source, candidate, language)
        if lost:
            return source, code, f"the reply left out {', '.join(lost)} from the file"
        if candidate == source:
            return source, code, "the model returned the code unchanged"
        return candidate, code, None

    def _fixed_message(self, attempt: int, model: str, endpoint: str, after: Check) -> str:
        not_run = self._not_run()
        return (
            f"Fixed on attempt {attempt}/{self.max_attempts} by {model} at {endpoint}"
            + (f"; remaining: {after.summary}" if after.failures else "")
            + (f"; not verified by running: {not_run}" if not_run else "")
        )


def _better(before: Check, after: Check, had_diagnostics: bool) -> bool:
    """A candidate is kept only when it is verifiably no worse and fixes something."""
    if after.syntax_error:
        return False
    if after.passed_tests < before.passed_tests:
        return False  # never trade a passing test for a cleaner run
    if before.passed_names and after.passed_names and not before.passed_names <= after.passed_names:
        return False  # nor one passing test for another
    if after.failures < before.failures:
        return True
    # Only editor diagnostics (a linter, a type checker) and a clean run: keep a candidate that
    # still runs cleanly, since running cannot show the diagnostic itself.
    return before.failures == 0 and after.failures == 0 and had_diagnostics
