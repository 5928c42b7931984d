"""Generate a function from a stub: related functions, an approach, candidates checked by the
stub's docstring examples (and tests), escalation.

Each attempt asks for several candidates at once (`generate.candidates`, capped by what the
generator's endpoints serve at once) and checks each as it arrives; the first one that the
user's own examples and tests (or the model's tests, when they load) pass wins and the others
are cancelled. A candidate nothing could check is offered only as "not verified".
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..llm import LLMError
from ..values import Outcome, Region, Stub, Target
from .candidates import CandidateRound, Reply, endpoint_capacity, samplings
from .checker import Check
from .doc_examples import StubExamples, example_count
from .evidence import (
    Verdict,
    missing_name,
    results_by_file,
    run_problem,
    undefined_names,
    user_checks,
)
from .extract import NoCodeInReply, extract_code
from .jobs import JobContext
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
from .workspace import workspace_sources

log = logging.getLogger("code_evolver.generate")

_SCORE = re.compile(r"SCORE:\s*(\d+(?:\.\d+)?)\s*/\s*10", re.IGNORECASE)


@dataclass
class _Plan:
    """What the whole generation shares: the stub, its checks, and the file before."""

    source: str
    stub: Stub
    region: Region
    stub_text: str | None
    before: Check
    examples: int  # how many `>>>` examples the stub's docstring holds (when they can run)
    name: str  # how the messages call it: "median()" or "'sort the list'"
    doctests: StubExamples | None = None  # what runs them, when it has any


@dataclass
class _Search:
    """What the attempts of one generation share."""

    count: int  # candidates per attempt
    rng: random.Random
    attempts: list[FailedAttempt] = field(default_factory=list)  # shown to the next attempt
    endpoints: list[str] = field(default_factory=list)
    fallback: tuple[Verdict, Reply, int] | None = None  # clean but nothing could check it
    last_problem: str = "no model reply yet"


class Generator(ModelSession):
    """Turns stubs into verified functions."""

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
        runnable = self.target.language == "python" and self.checker.can_run
        plan = _Plan(
            source,
            stub,
            region,
            region_text(source, region) if stub.kind == "function" else None,
            self.checker.check(source),
            example_count(stub.docstring) if runnable and stub.kind == "function" else 0,
            f"{stub.name}()" if stub.name else f"'{stub.request[:40]}'",
        )
        if plan.examples:
            plan.doctests = StubExamples(
                self.checker, source, stub.docstring or "", stub.name or "it"
            )
        count = max(1, min(options.candidates, endpoint_capacity(self.client, "generator")))
        search = _Search(count, random.Random())  # fresh seeds each request: no replays
        for attempt in range(1, options.max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            prompt = generate_prompt(
                request=stub.request,
                signature=stub.signature,
                stub=plan.stub_text,
                related=related,
                approach=approach,
                language=self.target.language,
                attempts=search.attempts,
                context=_surroundings(source, region),
                limit=self.settings.max_prompt_chars,
            )
            won = self._round(plan, search, prompt, attempt)
            if won is not None:
                return won
            if search.fallback is not None:
                break  # more attempts would not find something that can be checked
        if search.fallback is not None:
            return self._offer(plan, *search.fallback, search.endpoints)
        return Outcome(
            None,
            region,
            None,
            f"No working function after {options.max_attempts} attempt(s); the stub "
            f"is unchanged. Last error: {_first_line(search.last_problem)}",
            options.max_attempts,
            plan.before,
            None,
            tuple(search.endpoints),
        )

    def _round(self, plan: _Plan, search: _Search, prompt: str, attempt: int) -> Outcome | None:
        """One attempt: `search.count` candidates at once, each checked as it arrives; the
        outcome of the first that may be offered, or None (the best failure is kept)."""
        role = self.client.role_settings("generator")
        step = f"Attempt {attempt}/{self.settings.generate.max_attempts}"
        count = search.count
        self.on_step(
            f"{step}: writing {count} candidates with {role.model}"
            if count > 1
            else f"{step}: writing with {role.model}"
        )
        best: Verdict | None = None
        errors: list[LLMError] = []
        with CandidateRound(
            self.client,
            prompt,
            samplings(count, role.options.get("temperature"), search.rng),
            cancel=self.cancel,
            on_step=self.on_step,
        ) as round_:
            for reply in round_:
                if reply.generation is None:
                    errors.extend([reply.error] if reply.error is not None else [])
                    continue
                search.endpoints.append(reply.generation.endpoint)
                self.on_step(
                    f"{step}: checking candidate {reply.index}/{count} "
                    f"from {reply.generation.endpoint}"
                )
                verdict = self._judge(plan, reply.generation.text)
                if verdict.verified or (verdict.candidate and not self._can_verify(plan)):
                    round_.close()
                    return self._offer(plan, verdict, reply, attempt, search.endpoints)
                if verdict.candidate is not None:
                    search.fallback = search.fallback or (verdict, reply, attempt)
                    continue
                search.last_problem = verdict.problem or search.last_problem
                self.on_step(f"Candidate {reply.index}/{count}: {_first_line(search.last_problem)}")
                if best is None or verdict.examples_passed > best.examples_passed:
                    best = verdict
        if len(errors) == count:
            raise errors[0]  # no endpoint answered: the feature says so in one sentence
        if best is not None:
            search.attempts.append(FailedAttempt(best.code, best.problem or ""))
        return None

    # ------------------------------------------------------------ one candidate

    def _can_verify(self, plan: _Plan) -> bool:
        """Whether anything could check a candidate: examples, the user's tests, or the model's."""
        return bool(
            plan.examples
            or (self.checker.can_run and self.checker.test_file is not None)
            or (self._writes_tests() and plan.stub.kind == "function")
        )

    def _writes_tests(self) -> bool:
        return (
            self.settings.generate.write_tests
            and self.target.language == "python"
            and self.checker.can_run
        )

    def _judge(self, plan: _Plan, reply: str) -> Verdict:
        """Extract, place and check one candidate: rejected with a reason, or offerable."""
        stub = plan.stub
        try:
            code = extract_code(reply, self.target.language, original=plan.stub_text)
        except NoCodeInReply as exc:
            return Verdict(reply[:2000], problem=str(exc))
        code = narrow_to_function(code, stub.name)
        problem = _shape_problem(code, stub)
        if problem:
            return Verdict(code, problem=problem)
        candidate = splice(plan.source, plan.region, code)
        name = stub.name or defined_function_name(candidate, stub.start_line)
        problem = _undefined_problem(candidate, name) if self.target.language == "python" else None
        if problem:
            return Verdict(code, problem=problem)
        after = self.checker.check(candidate)
        verdict = Verdict(code, after=after)
        problem = after.syntax_error
        if problem is None and plan.doctests is not None:
            problem = plan.doctests.judge(candidate, name or "it", verdict)
        problem = problem or run_problem(plan.before, after)
        problem = problem or user_checks(plan.before, after, verdict)
        if problem:
            verdict.problem = problem
            return verdict
        if self._writes_tests() and (name or stub.name):
            problem = self._model_checks(candidate, plan.stub, name or "", verdict)
            if problem:
                verdict.problem = problem
                return verdict
        verdict.candidate = candidate
        if not verdict.checked_by:
            verdict.unchecked = self._why_unchecked(plan, verdict)
        return verdict

    def _model_checks(self, candidate: str, stub: Stub, name: str, verdict: Verdict) -> str | None:
        """Tests the model writes for the candidate (the file with it): they count when they
        load and pass."""
        tests = self._tests_for(candidate, stub, name)
        if not tests:
            verdict.unchecked = "the model wrote no tests for it"
            return None
        after = self.checker.check(candidate, extra_tests=tests)
        results = results_by_file(after).get(next(iter(tests)))
        output = after.tests.stdout + after.tests.stderr if after.tests else ""
        if results is None or not results.loaded:
            # Tests that do not import say nothing about the function; never held against it.
            self.on_step("Its model-written tests do not load; they are left out")
            verdict.unchecked = "the tests the model wrote for it did not load"
            return None
        if results.failed:
            missing = missing_name(output)
            head = f"{missing} when its tests call it" if missing else "its tests fail"
            return f"{head}\n{after.details}"
        if results.passed:
            verdict.checked_by.append(f"{len(results.passed)} model-written test(s)")
        verdict.after = after
        return None

    def _why_unchecked(self, plan: _Plan, verdict: Verdict) -> str:
        if self.target.language != "python" or not self.checker.can_run:
            return "running code is off for this workspace"
        test_file = self.checker.test_file
        examples = verdict.examples_unrun or "it has no docstring examples"
        if test_file is not None and test_file != self.target.path:
            rel = os.path.relpath(test_file, self.target.workspace_root)
            what = f"{examples}, and no test in {rel} went from failing to passing"
        else:
            what = f"{examples} and no tests of yours"
        if verdict.unchecked:
            what += f", and {verdict.unchecked}"
        return what

    def _offer(
        self, plan: _Plan, verdict: Verdict, reply: Reply, attempt: int, endpoints: list[str]
    ) -> Outcome:
        assert verdict.candidate is not None and reply.generation is not None
        options = self.settings.generate
        by = f"{reply.generation.model} at {reply.generation.endpoint}"
        # The evaluator's score is an opinion, never a check: it is shown, it verifies nothing.
        note = self._evaluate(plan.stub, verdict.code) if options.use_evaluator else ""
        if verdict.checked_by:
            message = (
                f"Generated {plan.name} on attempt {attempt}/{options.max_attempts} by {by}; "
                f"checked by {_and(verdict.checked_by)}{note}"
            )
        else:
            hint = (
                "its examples run once the file imports without an error"
                if verdict.examples_unrun
                else "add `>>>` examples to its docstring to check it"
                if plan.stub.kind == "function"
                else "write it as a stub with `>>>` examples in its docstring to check it"
            )
            message = f"Wrote {plan.name} by {by} (not verified: {verdict.unchecked}; {hint}){note}"
        new_region = shifted_region(plan.region, plan.source, verdict.candidate)
        return Outcome(
            verdict.candidate,
            plan.region,
            region_text(verdict.candidate, new_region),
            message,
            attempt,
            plan.before,
            verdict.after,
            tuple(endpoints),
        )

    # ------------------------------------------------------------ the other roles

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

    def _tests_for(self, candidate: str, stub: Stub, name: str) -> dict[str, str] | None:
        """Quick tests written by the model for the new function (generate.write_tests)."""
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
        # A file of that name the user has stays in the run: the model's tests go beside it.
        stem, number = os.path.join("tests", f"test_generated_{module.replace('.', '_')}"), 1
        rel = f"{stem}.py"
        while os.path.exists(os.path.join(self.checker.root, rel)):
            number += 1
            rel = f"{stem}_{number}.py"
        return {rel: tests}


def _undefined_problem(candidate: str, name: str | None) -> str | None:
    """A NameError waiting to happen: such a candidate is never offered, checked or not."""
    missing = undefined_names(candidate, name) if name else []
    if missing:
        return f"NameError: it uses {', '.join(missing)}, which nothing in the file defines"
    return None


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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class GenerateJob:
    """Generate function: the file as the editor had it, the stub, and the workspace to read
    related functions from."""

    target: Target
    source: str
    stub: Stub
    workspace_root: str
    # Open Python documents by path: their text in the editor wins over the file on disk.
    open_docs: Mapping[str, str] = field(default_factory=dict)

    def perform(self, context: JobContext) -> Outcome:
        with Generator.for_job(context, self.target) as generator:
            sources: dict[str, str] = {}
            if context.settings.generate.related_functions:
                sources = workspace_sources(self.workspace_root, self.open_docs)
            sources.pop(self.target.path, None)
            return generator.generate(self.source, self.stub, sources)
