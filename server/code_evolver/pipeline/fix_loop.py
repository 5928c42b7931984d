"""The fix loop: run, ask the generator for candidates, verify each, escalate until clean.

Each round asks for several candidates at once (as many as the generator's endpoints serve at
once, `fix.candidates` at most) and checks each as it arrives; the round ends at the first one
that is fully clean. A candidate that is better but not clean becomes the next round's starting
point, with its own error. "Fixed" is said only of a clean run that kept every check the user
wrote (pipeline/judge.py); anything less is offered as partial work, and says what changed.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..llm import Generation, LLMError
from ..values import DiagnosticInfo, Outcome, Region, Target
from .candidates import CandidateRound, endpoint_capacity, samplings
from .check_markers import silenced
from .checker import Check
from .extract import NoCodeInReply, extract_code
from .jobs import JobContext
from .judge import changed_functions, drop_added_comments, hollowed, weakened
from .lines import split_lines
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
from .stubs import enclosing_function
from .verdict import Verdict, judge_run, syntax_error_line, what_changed

log = logging.getLogger("code_evolver.fix")

_STILL = "still has errors"


def run_info(check: Check) -> RunInfo | None:
    result = check.run if check.run is not None and not check.run.ok else check.tests
    if result is None:
        result = check.run
    if result is None:
        return None
    note = "timed out and was stopped" if result.timed_out else ""
    return RunInfo(" ".join(result.argv), result.exit_code, result.stdout, result.stderr, note)


@dataclass(frozen=True)
class _Version:
    """A version of the file the loop has run: the original, or a candidate."""

    source: str
    check: Check
    region: Region
    code: str = ""  # the reply's code that made it (empty for the original)
    generation: Generation | None = None
    verdict: Verdict = "none"
    attempt: int = 0


class FixSession(ModelSession):
    """One fix request: owns the checker (scratch files) and the attempt history."""

    def __init__(self, *args: Any, max_attempts: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_attempts = max_attempts or self.settings.fix.max_attempts
        self._rng = random.Random()  # fresh seeds every session: a retry is a new try
        self._attempts: list[FailedAttempt] = []
        self._endpoints: list[str] = []
        self._last_problem = ""
        # The attempts of one fix share a long prompt prefix: kept on the endpoint that cached
        # it while that one has a free slot (the client's session affinity).
        self._session = f"fix-{uuid.uuid4().hex}"

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
        start = _Version(source, before, region)
        best: _Version | None = None
        for attempt in range(1, self.max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            found = self._round(attempt, start, start if best is None else best, diagnostics)
            if found is None:
                continue
            if found.verdict in ("fixed", "fixed_here"):
                return self._outcome(start, found)
            best = found
        if best is not None:
            return self._outcome(start, best)
        last = self._last_problem or before.summary
        return Outcome(
            None,
            region,
            None,
            f"No fix after {self.max_attempts} attempt(s); the file is unchanged. "
            f"Last error: {last}",
            self.max_attempts,
            before,
            None,
            tuple(self._endpoints),
        )

    # ------------------------------------------------------------ before the first round

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
        compile_line = syntax_error_line(before.syntax_error)
        if compile_line is not None:
            lines.append(compile_line)
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
        """Why no model is asked at all: nothing is wrong, input is missing, or it is too big."""
        not_run = self._not_run()
        if before.failures == 0 and not diagnostics:
            if not_run:
                return f"{not_run} and no diagnostics were given: nothing to fix."
            return (
                f"{self.target.relative} runs without errors and "
                "no diagnostics were given: nothing to fix."
            )
        if before.summary.startswith("EOFError") and self.settings.fix.stdin is None:
            return (
                f"{self.target.relative} reads standard input and its run had none "
                f"({before.summary}), so no change to the code can be checked: set fix.stdin "
                "in config.yaml to the text it should read (or the path of a file with it), "
                "then try again."
            )
        if len(original) > self._room():
            language = self.target.language
            name = (
                "The file"
                if region.whole_file
                else f"{first_definition_name(original, language)}()"
            )
            return (
                f"{name} is too large to fix "
                f"({len(original)} characters; max_prompt_chars is "
                f"{self.settings.max_prompt_chars}): put the cursor on a diagnostic in a "
                "smaller function, or raise max_prompt_chars."
            )
        return None

    # ------------------------------------------------------------ one round

    def _round(
        self,
        attempt: int,
        original: _Version,
        start: _Version,
        diagnostics: Sequence[DiagnosticInfo],
    ) -> _Version | None:
        """Ask for candidates improving on `start`; the first clean one, else the best one."""
        count = min(self.settings.fix.candidates, endpoint_capacity(self.client, "generator"))
        model = self.client.role_settings("generator").model
        label = f"Attempt {attempt}/{self.max_attempts}"
        many = f" for {count} candidates" if count > 1 else ""
        self.on_step(f"{label}: asking {model}{many}")
        prompt = self._prompt(start, diagnostics)
        base = self.client.role_settings("generator").options.get("temperature")
        better: list[_Version] = []
        errors: list[LLMError] = []
        with CandidateRound(
            self.client,
            prompt,
            samplings(count, base, self._rng),
            cancel=self.cancel,
            on_step=self.on_step,
            session=self._session,
        ) as replies:
            for reply in replies:
                if reply.generation is None:
                    errors.extend([reply.error] if reply.error is not None else [])
                    continue
                self._endpoints.append(reply.generation.endpoint)
                where = f", candidate {reply.index}/{count} from {reply.generation.endpoint}"
                found = self._try(
                    f"{label}{where if count > 1 else ''}",
                    attempt,
                    original,
                    start,
                    reply.generation,
                )
                if found is not None and found.verdict in ("fixed", "fixed_here"):
                    replies.close()  # the other endpoints stop generating
                    return found
                if found is not None:
                    better.append(found)
        if errors and len(errors) == count:
            raise errors[0]
        return min(better, key=lambda v: v.check.failures) if better else None

    def _prompt(self, start: _Version, diagnostics: Sequence[DiagnosticInfo]) -> str:
        problems = list(diagnostics)
        compile_line = syntax_error_line(start.check.syntax_error)
        if start.check.syntax_error and compile_line is not None:
            lines = split_lines(start.source)
            text = lines[compile_line].strip() if compile_line < len(lines) else ""
            problems.append(
                DiagnosticInfo(
                    f"{start.check.syntax_error}: `{text}`", compile_line + 1, "python compile"
                )
            )
        return fix_prompt(
            code=region_text(start.source, start.region),
            language=self.target.language,
            path=self.target.relative,
            diagnostics=problems,
            run=run_info(start.check) if start.check.failures else None,
            attempts=self._attempts,
            whole_file=start.region.whole_file,
            context="" if start.region.whole_file else region_context(start.source, start.region),
            limit=self.settings.max_prompt_chars,
        )

    def _try(
        self,
        label: str,
        attempt: int,
        original: _Version,
        start: _Version,
        generation: Generation,
    ) -> _Version | None:
        """Check one candidate; it comes back when it is better than `start`."""
        candidate, code, problem = self._candidate(start, generation.text)
        if problem is None:
            problem = self._weakening(original, start, candidate)
        if problem is not None:
            self._attempts.append(FailedAttempt(code, problem))
            self._last_problem = problem
            self.on_step(f"{label}: {problem}")
            return None
        self.on_step(f"{label}: verifying")
        after = self.checker.check(candidate)
        region = shifted_region(start.region, start.source, candidate)
        verdict, why = judge_run(
            original.check, start.check, after, original.region, region, candidate
        )
        if verdict == "none":
            self._last_problem = after.summary if why == _STILL else why
            self._attempts.append(FailedAttempt(code, after.details if why == _STILL else why))
            self.on_step(
                f"{label}: {why}" if why != _STILL else f"Still has errors: {after.summary}"
            )
            return None
        if verdict == "partial":
            self._attempts.append(FailedAttempt(code, after.details))
            self.on_step(f"{label}: better, still has errors: {after.summary}")
        return _Version(candidate, after, region, code, generation, verdict, attempt)

    def _candidate(self, start: _Version, reply: str) -> tuple[str, str, str | None]:
        """(the file with the reply in place, the reply's code, the problem or None)."""
        source, region = start.source, start.region
        original = region_text(source, region)
        try:
            code = extract_code(reply, self.target.language, original=original)
        except NoCodeInReply as exc:
            said = str(exc)
            problem = (
                "the model's reply was empty" if not reply.strip() else said[0].lower() + said[1:]
            )
            return source, reply[:2000], problem
        language = self.target.language
        if language == "python":
            # Checked before added comments go: a new suppression silences, it does not fix.
            silencing = silenced(original, code)
            if silencing is not None:
                return source, code, silencing
            code = drop_added_comments(original, code)
        if region.whole_file:
            candidate = merge_definitions(source, code, language)
        else:
            name = first_definition_name(original, language)
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

    def _weakening(self, original: _Version, start: _Version, candidate: str) -> str | None:
        """Why the candidate would pass by weakening the user's checks or hollowing code."""
        language = self.target.language
        problem = weakened(original.source, candidate, language=language)
        if problem is not None or language != "python":
            return problem
        changed = changed_functions(original.source, candidate)
        if not start.region.whole_file:
            name = first_definition_name(region_text(start.source, start.region))
            changed = [name] if name else changed
        elif changed:
            allowed = self._diagnosed_functions(original)
            outside = [name for name in changed if allowed and name not in allowed]
            if outside:
                return f"it changed {outside[0]}(), which the problems are not in"
        return hollowed(original.source, candidate, changed)

    def _diagnosed_functions(self, original: _Version) -> set[str]:
        """Names of the top-level functions the original's problems are in."""
        lines = []
        if original.check.error is not None and original.check.error.line is not None:
            lines.append(original.check.error.line)
        compile_line = syntax_error_line(original.check.syntax_error)
        if compile_line is not None:
            lines.append(compile_line)
        names = set()
        for line in lines:
            span = enclosing_function(original.source, line)
            if span is not None:
                name = first_definition_name(region_text(original.source, Region(*span, False)))
                if name:
                    names.add(name)
        return names

    # ------------------------------------------------------------ the answer

    def _outcome(self, original: _Version, found: _Version) -> Outcome:
        generation = found.generation
        assert generation is not None
        by = f"attempt {found.attempt}/{self.max_attempts} by {generation.model} at "
        by += generation.endpoint
        not_run = self._not_run()
        verdict = found.verdict
        if verdict == "fixed" and not not_run and found.check.checked_by == "nothing ran":
            # A clean check resting on nothing (no run, no passing test) proves nothing.
            verdict = "partial"
            message = (
                f"Unverified change on {by}: nothing ran to check it (the file is not run "
                "and none of its tests passed)"
            )
        elif found.verdict == "fixed" and not not_run and original.check.failures:
            message = f"Fixed on {by}: {found.check.checked_by}"
        elif found.verdict == "fixed" and not not_run:
            message = (
                f"Changed on {by} for the editor's diagnostics; it still runs cleanly "
                "(running cannot show whether the diagnostic itself is gone)"
            )
        elif found.verdict == "fixed":
            message = f"Changed on {by}; not verified by running: {not_run}"
        elif found.verdict == "fixed_here":
            message = (
                f"{what_changed(original.check, found.check)} ({by}); the rest of the file "
                "still fails, outside the code this fix is about"
            )
        else:
            message = (
                f"Partial fix, not a full one: {what_changed(original.check, found.check)} "
                f"(best of {found.attempt} attempt(s), {by})"
            )
        replacement = region_text(found.source, found.region)
        return Outcome(
            found.source,
            original.region,
            replacement,
            message,
            found.attempt,
            original.check,
            found.check,
            tuple(self._endpoints),
            verdict=verdict,
        )


@dataclass(frozen=True)
class FixJob:
    """Fix diagnostics: the file as the editor had it, and the diagnostics to fix."""

    target: Target
    source: str
    diagnostics: tuple[DiagnosticInfo, ...]
    whole_file: bool = False

    def perform(self, context: JobContext) -> Outcome:
        with FixSession.for_job(context, self.target) as session:
            return session.fix(self.source, self.diagnostics, whole_file=self.whole_file)
