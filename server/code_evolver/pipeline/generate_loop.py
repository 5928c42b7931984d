"""Generate a function from a stub: related functions, an approach, code, tests, escalation."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

from ..llm import LLMError
from ..values import Outcome, Region, Stub
from .checker import Check
from .extract import NoCodeInReply, extract_code
from .lines import split_lines
from .model_session import ModelSession
from .prompts import (
    FailedAttempt,
    evaluator_prompt,
    generate_prompt,
    overseer_prompt,
    tests_prompt,
)
from .regions import narrow_to_function, region_text, shifted_region, splice
from .stubs import enclosing_function, related_functions
from .test_writer import TEST_NAME, defined_function_name, module_name

log = logging.getLogger("code_evolver.generate")

_SCORE = re.compile(r"SCORE:\s*(\d+(?:\.\d+)?)\s*/\s*10", re.IGNORECASE)
_RESULT_LINE = re.compile(r"::(test_\w+)\S*\s+(PASSED|FAILED|ERROR)")


class Generator(ModelSession):
    """Turns stubs into verified functions."""

    # ------------------------------------------------------------ generate a function

    def generate(self, source: str, stub: Stub, workspace: Mapping[str, str]) -> Outcome:
        options = self.settings.generate
        region = Region(stub.start_line, stub.end_line, False)
        related = []
        if options.related_functions:
            found = related_functions(
                dict(workspace),
                stub.request,
                exclude_name=stub.name,
                limit=options.related_functions,
            )
            related = [f"# {os.path.basename(f.path)}\n{f.source}" for f in found]
        approach = self._approach(stub, related) if options.use_overseer else None
        before = self.checker.check(source)
        attempts: list[FailedAttempt] = []
        endpoints: list[str] = []
        last_problem = "no model reply yet"
        stub_text = region_text(source, region) if stub.kind == "function" else None
        for attempt in range(1, options.max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            model = self.client.role_settings("generator").model
            self.on_step(f"Attempt {attempt}/{options.max_attempts}: writing with {model}")
            prompt = generate_prompt(
                request=stub.request,
                signature=stub.signature,
                stub=stub_text,
                related=related,
                approach=approach,
                language=self.target.language,
                attempts=attempts,
                context=_surroundings(source, region),
                limit=self.settings.max_prompt_chars,
            )
            reply = self.client.generate_full(
                prompt=prompt, model_key="generator", cancel=self.cancel, on_step=self.on_step
            )
            endpoints.append(reply.endpoint)
            try:
                code = extract_code(reply.text, self.target.language, original=stub_text)
            except NoCodeInReply as exc:
                last_problem = str(exc)
                attempts.append(FailedAttempt(reply.text[:2000], last_problem))
                continue
            code = narrow_to_function(code, stub.name)
            problem = _shape_problem(code, stub)
            if problem:
                last_problem = problem
                attempts.append(FailedAttempt(code, problem))
                self.on_step(f"Attempt {attempt}/{options.max_attempts}: {problem}")
                continue
            candidate = self._place(source, stub, code)
            self.on_step(f"Attempt {attempt}/{options.max_attempts}: verifying")
            tests = self._tests_for(candidate, stub)
            after = self.checker.check(candidate, extra_tests=tests)
            dropped = ""
            if tests and _not_collected(after, tests):
                # The model's tests do not even import: they say nothing about the function.
                self.on_step(f"Attempt {attempt}/{options.max_attempts}: its tests do not load")
                after = self.checker.check(candidate)
                dropped = "; its own tests did not load and were left out"
            if (
                after.syntax_error is None
                and after.failures <= before.failures
                and not (after.tests is not None and not after.tests.ok)
            ):
                note = self._evaluate(stub, code) if options.use_evaluator else ""
                tested = f", {after.passed_tests} test(s) pass" if after.passed_tests else ""
                message = (
                    f"Generated on attempt {attempt}/{options.max_attempts} by "
                    f"{reply.model} at {reply.endpoint}{tested}{dropped}{note}"
                )
                new_region = shifted_region(region, source, candidate)
                return Outcome(
                    candidate,
                    region,
                    region_text(candidate, new_region),
                    message,
                    attempt,
                    before,
                    after,
                    tuple(endpoints),
                )
            last_problem = after.summary
            attempts.append(FailedAttempt(code, after.details))
            self.on_step(f"Still has errors: {after.summary}")
        return Outcome(
            None,
            region,
            None,
            f"No working function after {options.max_attempts} attempt(s); the stub "
            f"is unchanged. Last error: {last_problem}",
            options.max_attempts,
            before,
            None,
            tuple(endpoints),
        )

    def _approach(self, stub: Stub, related: list[str]) -> str | None:
        model = self.client.role_settings("overseer").model
        self.on_step(f"Consulting overseer {model}")
        try:
            return self.client.generate(
                prompt=overseer_prompt(
                    request=stub.request,
                    signature=stub.signature,
                    related=related,
                    language=self.target.language,
                ),
                model_key="overseer",
                cancel=self.cancel,
            )
        except LLMError as exc:
            # The overseer only advises; the generator can work without it.
            log.warning("Overseer unavailable, generating without an approach: %s", exc)
            self.on_step("Overseer unavailable; continuing without an approach")
            return None

    def _evaluate(self, stub: Stub, code: str) -> str:
        self.on_step(f"Scoring with evaluator {self.client.role_settings('evaluator').model}")
        try:
            reply = self.client.generate(
                prompt=evaluator_prompt(request=stub.request, code=code),
                model_key="evaluator",
                cancel=self.cancel,
            )
        except LLMError as exc:
            log.warning("Evaluator unavailable: %s", exc)
            return ""
        match = _SCORE.search(reply)
        return f"; evaluator score {match.group(1)}/10" if match else ""

    def _place(self, source: str, stub: Stub, code: str) -> str:
        # A stub is replaced whole; a comment or a selection by the code written for it.
        return splice(source, Region(stub.start_line, stub.end_line, False), code)

    def _tests_for(self, candidate: str, stub: Stub) -> dict[str, str] | None:
        """Quick tests written by the model for the new function (generate.write_tests)."""
        if (
            not self.settings.generate.write_tests
            or self.target.language != "python"
            or not self.checker.can_run
        ):
            return None
        name = stub.name or defined_function_name(candidate, stub.start_line)
        if not name:
            return None
        span = enclosing_function(candidate, stub.start_line)
        code = region_text(candidate, Region(span[0], span[1], False)) if span else candidate
        module = module_name(self.target)
        self.on_step(f"Writing tests for {name}")
        try:
            reply = self.client.generate(
                prompt=tests_prompt(
                    function_code=code, module=module, function_name=name, attempts=[]
                ),
                model_key="generator",
                cancel=self.cancel,
            )
            tests = extract_code(reply, "python")
        except (LLMError, NoCodeInReply) as exc:
            log.warning("No tests for %s: %s", name, exc)
            return None
        if not TEST_NAME.search(tests):
            return None
        return {os.path.join("tests", f"test_generated_{module.replace('.', '_')}.py"): tests}


def _shape_problem(code: str, stub: Stub) -> str | None:
    if (
        stub.kind == "function"
        and stub.name
        and not re.search(rf"^\s*(async\s+)?def\s+{re.escape(stub.name)}\s*\(", code, re.MULTILINE)
    ):
        return f"the reply does not define {stub.name}()"
    return None


def _surroundings(source: str, region: Region, radius: int = 40) -> str:
    lines = split_lines(source)
    return "\n".join(
        lines[max(0, region.start - radius) : region.start]
        + lines[region.end + 1 : region.end + 1 + radius]
    )


def _not_collected(check: Check, tests: Mapping[str, str]) -> bool:
    """Whether pytest could not even collect one of the generated test files."""
    run = check.tests
    if run is None or run.ok:
        return False
    output = run.stdout + run.stderr
    return any(f"ERROR collecting {path}" in output for path in tests)
