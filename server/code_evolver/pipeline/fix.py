"""The fix loop: run, ask the generator, verify on a copy, escalate with the new error."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Sequence
from typing import Any

from ..values import DiagnosticInfo, Outcome, Region
from .checker import Check, ModelJob
from .extract import NoCodeInReply, extract_code, leading_indent, reindent
from .prompts import FailedAttempt, RunInfo, fix_prompt
from .stubs import enclosing_function

log = logging.getLogger("code_evolver.fix")

# What ast.parse raises on code it cannot take: a model's reply nested thousands deep raises
# MemoryError or RecursionError rather than SyntaxError.
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)
# Top-level definitions by their first line, for sources that do not parse.
_TOP_DEFINITION = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)


def choose_region(source: str, lines: Sequence[int], whole_file: bool) -> Region:
    """The enclosing function of the first diagnosed line, or the whole file."""
    count = max(len(source.splitlines()), 1)
    if not whole_file:
        for line in lines:
            span = enclosing_function(source, line)
            if span is not None:
                return Region(span[0], span[1], False)
    return Region(0, count - 1, True)


def splice(source: str, region: Region, code: str) -> str:
    """Put `code` in place of the region's lines, with the region's indentation."""
    lines = source.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if region.whole_file:
        text = code.rstrip("\n") + newline
        return text if source.endswith(("\n", "\r")) or not source else text.rstrip("\r\n")
    indent = leading_indent(lines[region.start]) if region.start < len(lines) else ""
    body = reindent(code, indent).rstrip("\n")
    body = newline.join(body.split("\n")) + newline
    return "".join(lines[: region.start]) + body + "".join(lines[region.end + 1 :])


def region_text(source: str, region: Region) -> str:
    lines = source.splitlines(keepends=True)
    return "".join(lines[region.start : region.end + 1])


def _function_name(code: str) -> str | None:
    try:
        tree = ast.parse(_dedented(code))
    except _UNPARSABLE:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
    return None


def _defines(code: str, name: str) -> bool | None:
    """Whether `code` defines `name` at its top level; None when it does not parse."""
    try:
        tree = ast.parse(_dedented(code))
    except _UNPARSABLE:
        return None
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.name == name
        for node in tree.body
    )


def _dedented(code: str) -> str:
    return reindent(code, "")


def narrow_to_function(candidate: str, name: str | None) -> str:
    """When the model returned a whole file, keep only the function being replaced."""
    if not name:
        return candidate
    try:
        tree = ast.parse(_dedented(candidate))
    except _UNPARSABLE:
        return candidate
    defs = [
        n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    if len(tree.body) == 1 or not defs:
        return candidate
    lines = _dedented(candidate).splitlines()
    for node in defs:
        if node.name == name:
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            end = node.end_lineno or node.lineno
            return "\n".join(lines[start:end])
    return candidate


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _top_level(source: str) -> dict[str, _Definition] | None:
    try:
        tree = ast.parse(source)
    except _UNPARSABLE:
        return None
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def merge_definitions(source: str, code: str) -> str:
    """Apply a reply that holds only some of the file's functions to the whole file.

    Asked for a whole file, models often answer with just the function they changed; those
    definitions replace their namesakes and the rest of the file is kept.
    """
    try:
        tree = ast.parse(code)
    except _UNPARSABLE:
        return code.rstrip("\n") + "\n"
    original = _top_level(source)
    known = set(original) if original is not None else set(_TOP_DEFINITION.findall(source))
    replaced = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    partial = (
        bool(replaced)
        and all(
            isinstance(
                node,
                (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom),
            )
            for node in tree.body
        )
        and all(node.name in known for node in replaced)
    )
    if not partial:
        return code.rstrip("\n") + "\n"
    if original is None:  # the file does not parse (the syntax error being fixed)
        return _merge_by_indentation(source, tree, code)
    code_lines = code.splitlines()
    result = source
    for node in sorted(replaced, key=lambda n: original[n.name].lineno, reverse=True):
        old = original[node.name]
        start = min([d.lineno for d in old.decorator_list] + [old.lineno]) - 1
        new_start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        text = "\n".join(code_lines[new_start : node.end_lineno])
        result = splice(result, Region(start, (old.end_lineno or old.lineno) - 1, False), text)
    return result


def _merge_by_indentation(source: str, tree: ast.Module, code: str) -> str:
    """merge_definitions for an original that does not parse: find its definitions by their
    `def` lines and indentation, and replace those the reply redefines."""
    code_lines = code.splitlines()
    result = source
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        match = next((m for m in _TOP_DEFINITION.finditer(result) if m[1] == node.name), None)
        span = (
            enclosing_function(result, result.count("\n", 0, match.start()))
            if match is not None
            else None
        )
        if span is None:
            continue
        new_start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        text = "\n".join(code_lines[new_start : node.end_lineno])
        result = splice(result, Region(span[0], span[1], False), text)
    return result


def _top_level_names(source: str) -> list[str]:
    found = _top_level(source)
    return list(found) if found is not None else _TOP_DEFINITION.findall(source)


def lost_definitions(source: str, candidate: str) -> list[str]:
    """Top-level functions and classes of `source` that `candidate` no longer defines."""
    after = set(_top_level_names(candidate))
    return [f"{name}()" for name in _top_level_names(source) if name not in after]


def run_info(check: Check) -> RunInfo | None:
    result = check.run if check.run is not None and not check.run.ok else check.tests
    if result is None:
        result = check.run
    if result is None:
        return None
    note = "timed out and was stopped" if result.timed_out else ""
    return RunInfo(" ".join(result.argv), result.exit_code, result.stdout, result.stderr, note)


class FixSession(ModelJob):
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
        lines = [d.line - 1 for d in diagnostics]
        if before.error is not None and before.error.line is not None:
            lines.append(before.error.line)
        region = choose_region(source, lines, whole_file)
        # The code to fix must reach the model whole, with room left for the errors.
        room = self.settings.max_prompt_chars * 3 // 4
        if region.whole_file and len(source) > room:
            region = choose_region(source, lines, False)
        original = region_text(source, region)
        name = None if region.whole_file else _function_name(original)
        attempts: list[FailedAttempt] = []
        endpoints: list[str] = []
        last_problem = before.summary if before.failures else "no model reply yet"
        not_run = self._not_run()
        if before.failures == 0 and not diagnostics:
            return Outcome(
                None,
                region,
                None,
                f"{self.target.relative} runs without errors and "
                "no diagnostics were given: nothing to fix."
                if not not_run
                else f"{not_run} and no diagnostics were given: nothing to fix.",
                0,
                before,
            )
        if len(original) > room:
            return Outcome(
                None,
                region,
                None,
                f"{'The file' if region.whole_file else f'{name}()'} is too large to fix "
                f"({len(original)} characters; max_prompt_chars is "
                f"{self.settings.max_prompt_chars}): put the cursor on a diagnostic in a "
                "smaller function, or raise max_prompt_chars.",
                0,
                before,
            )
        for attempt in range(1, self.max_attempts + 1):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            self.on_step(
                f"Attempt {attempt}/{self.max_attempts}: asking "
                f"{self.client.role_settings('generator').model}"
            )
            prompt = fix_prompt(
                code=original,
                language=self.target.language,
                path=self.target.relative,
                diagnostics=diagnostics,
                run=run_info(before) if before.failures else None,
                attempts=attempts,
                whole_file=region.whole_file,
                context="" if region.whole_file else _context(source, region),
                limit=self.settings.max_prompt_chars,
            )
            reply = self.client.generate_full(
                prompt=prompt, model_key="generator", cancel=self.cancel, on_step=self.on_step
            )
            endpoints.append(reply.endpoint)
            try:
                code = extract_code(reply.text, self.target.language, original=original)
            except NoCodeInReply as exc:
                last_problem = f"the model's reply held no code ({exc})"
                attempts.append(FailedAttempt(reply.text[:2000], last_problem))
                self.on_step(f"Attempt {attempt}/{self.max_attempts}: {last_problem}")
                continue
            if region.whole_file:
                candidate = merge_definitions(source, code)
                lost = lost_definitions(source, candidate)
                if lost:
                    last_problem = f"the reply left out {', '.join(lost)} from the file"
                    attempts.append(FailedAttempt(code, last_problem))
                    self.on_step(f"Attempt {attempt}/{self.max_attempts}: {last_problem}")
                    continue
            else:
                narrowed = narrow_to_function(code, name)
                if name is not None and _defines(narrowed, name) is False:
                    last_problem = f"the reply does not define {name}()"
                    attempts.append(FailedAttempt(code, last_problem))
                    self.on_step(f"Attempt {attempt}/{self.max_attempts}: {last_problem}")
                    continue
                candidate = splice(source, region, narrowed)
            if candidate == source:
                last_problem = "the model returned the code unchanged"
                attempts.append(FailedAttempt(code, last_problem))
                self.on_step(f"Attempt {attempt}/{self.max_attempts}: {last_problem}")
                continue
            self.on_step(f"Attempt {attempt}/{self.max_attempts}: verifying")
            after = self.checker.check(candidate)
            if _better(before, after, bool(diagnostics)):
                replacement = region_text(candidate, shifted_region(region, source, candidate))
                message = (
                    f"Fixed on attempt {attempt}/{self.max_attempts} by "
                    f"{reply.model} at {reply.endpoint}"
                    + (f"; remaining: {after.summary}" if after.failures else "")
                    + (f"; not verified by running: {not_run}" if not_run else "")
                )
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


def shifted_region(region: Region, old: str, new: str) -> Region:
    delta = len(new.splitlines()) - len(old.splitlines())
    return Region(region.start, region.end + delta, region.whole_file)


def _context(source: str, region: Region, radius: int = 60) -> str:
    """Lines around the region, nearest first, for the model's reference."""
    lines = source.splitlines()
    before = lines[max(0, region.start - radius) : region.start]
    after = lines[region.end + 1 : region.end + 1 + radius]
    return "\n".join([*before, "# ... (the function being fixed goes here) ...", *after])
