"""Prompts for each step: text in, text out, bounded in size with far context cut first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..values import DiagnosticInfo

SYSTEM_CODER = (
    "You are an expert {language} programmer. Answer with code only, in one fenced "
    "```{language} block, with no explanation before or after."
)


@dataclass(frozen=True)
class RunInfo:
    """The captured run of the code."""

    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    note: str = ""

    def render(self, limit: int) -> str:
        parts = [
            f"$ {self.command}",
            f"exit code: {self.exit_code}" + (f" ({self.note})" if self.note else ""),
        ]
        if self.stdout.strip():
            parts.append("stdout:\n" + _tail(self.stdout, limit // 3))
        if self.stderr.strip():
            parts.append("stderr:\n" + _tail(self.stderr, limit))
        return "\n".join(parts)


@dataclass(frozen=True)
class FailedAttempt:
    """An earlier candidate that did not fix things, and the error it still gave."""

    code: str
    error: str


def _tail(text: str, limit: int) -> str:
    text = text.rstrip()
    if len(text) <= limit:
        return text
    return "[... earlier output cut ...]\n" + text[-limit:]


def _fit(sections: list[tuple[str, int]], limit: int) -> str:
    """Join sections; when too long, drop the least important (highest rank number) first."""
    kept = sorted(enumerate(sections), key=lambda item: item[1][1])
    total = sum(len(text) + 2 for text, _ in sections)
    dropped: set[int] = set()
    for index, (text, rank) in reversed(kept):
        if total <= limit or rank == 0:
            break
        dropped.add(index)
        total -= len(text) + 2
    return "\n\n".join(text for i, (text, _) in enumerate(sections) if i not in dropped)[
        : max(limit, 1)
    ]


def oneshot_prompt(request: str, language: str = "python") -> str:
    return f"Write {language} code for this request: {request.strip()}\n\n" + SYSTEM_CODER.format(
        language=language
    )


def fix_prompt(
    *,
    code: str,
    language: str,
    path: str,
    diagnostics: Sequence[DiagnosticInfo],
    run: RunInfo | None,
    attempts: Sequence[FailedAttempt],
    context: str = "",
    whole_file: bool,
    limit: int = 16_000,
) -> str:
    """Ask for a corrected version of `code` (a function, or the whole file)."""
    what = "file" if whole_file else "function"
    sections: list[tuple[str, int]] = [
        (
            f"Fix the bugs in this {language} {what} from {path}. Reply with the complete "
            f"corrected {what} only, keeping its name, signature and indentation style.",
            0,
        ),
        (f"```{language}\n{code.rstrip()}\n```", 0),
    ]
    if diagnostics:
        sections.append(
            ("Problems reported by the editor:\n" + "\n".join(d.render() for d in diagnostics), 1)
        )
    if run is not None:
        sections.append(("Running the code gave:\n" + run.render(limit // 4), 1))
    for number, attempt in enumerate(attempts, start=1):
        # The newest failed attempt matters most; older ones go first when space runs out.
        rank = 2 if number == len(attempts) else 4
        sections.append(
            (
                f"Attempt {number} did not work. It was:\n```{language}\n"
                f"{attempt.code.rstrip()}\n```\nand it still failed with:\n"
                f"{_tail(attempt.error, 2000)}\nDo not repeat it.",
                rank,
            )
        )
    if context.strip():
        sections.append(
            (
                "The rest of the file, for reference (do not return it):\n"
                f"```{language}\n{context.rstrip()}\n```",
                5,
            )
        )
    sections.append((SYSTEM_CODER.format(language=language), 0))
    return _fit(sections, limit)


def overseer_prompt(
    *,
    request: str,
    signature: str | None,
    related: Sequence[str],
    language: str = "python",
    limit: int = 8_000,
) -> str:
    sections: list[tuple[str, int]] = [
        (f"A {language} function is needed: {request.strip()}", 0),
    ]
    if signature:
        sections.append((f"Its signature: {signature}", 0))
    if related:
        sections.append(("Related functions already in the project:\n" + "\n".join(related), 3))
    sections.append(
        (
            "In at most five short numbered steps, describe how to implement it and "
            "which edge cases to handle. No code.",
            0,
        )
    )
    return _fit(sections, limit)


def generate_prompt(
    *,
    request: str,
    signature: str | None,
    stub: str | None,
    related: Sequence[str],
    approach: str | None,
    language: str,
    attempts: Sequence[FailedAttempt],
    context: str = "",
    limit: int = 16_000,
) -> str:
    """Ask for a complete function for `request`."""
    head = f"Write a complete {language} function that does this: {request.strip()}"
    if signature:
        head += f"\nUse exactly this signature: {signature}"
    sections: list[tuple[str, int]] = [(head, 0)]
    if stub:
        sections.append((f"It replaces this stub:\n```{language}\n{stub.rstrip()}\n```", 0))
    if approach:
        sections.append((f"Suggested approach:\n{approach.strip()}", 2))
    if related:
        sections.append(
            (
                "Functions in the project you may call or imitate:\n```"
                f"{language}\n" + "\n\n".join(related) + "\n```",
                3,
            )
        )
    for number, attempt in enumerate(attempts, start=1):
        rank = 1 if number == len(attempts) else 4
        sections.append(
            (
                f"Attempt {number} failed. It was:\n```{language}\n"
                f"{attempt.code.rstrip()}\n```\nError:\n{_tail(attempt.error, 2000)}",
                rank,
            )
        )
    if context.strip():
        sections.append(
            (
                "Surrounding code, for reference (do not return it):\n"
                f"```{language}\n{context.rstrip()}\n```",
                5,
            )
        )
    sections.append(
        (
            "Include needed imports inside the function body only if they are not "
            "already in the file. " + SYSTEM_CODER.format(language=language),
            0,
        )
    )
    return _fit(sections, limit)


def tests_prompt(
    *,
    function_code: str,
    module: str,
    function_name: str,
    attempts: Sequence[FailedAttempt],
    limit: int = 12_000,
) -> str:
    sections: list[tuple[str, int]] = [
        (
            f"Write pytest unit tests for the function `{function_name}` of module `{module}`. "
            f"Import it with `from {module} import {function_name}`. Cover normal cases and edge "
            "cases, as plain test functions named test_*.",
            0,
        ),
        (f"```python\n{function_code.rstrip()}\n```", 0),
    ]
    for number, attempt in enumerate(attempts, start=1):
        sections.append(
            (
                f"Your tests (attempt {number}) were wrong:\n```python\n"
                f"{attempt.code.rstrip()}\n```\nOutput:\n{_tail(attempt.error, 2000)}\n"
                "Fix the tests, not the function.",
                1 if number == len(attempts) else 4,
            )
        )
    sections.append((SYSTEM_CODER.format(language="python"), 0))
    return _fit(sections, limit)


def evaluator_prompt(*, request: str, code: str, limit: int = 8_000) -> str:
    return _fit(
        [
            (f"Rate how well this code does the request: {request.strip()}", 0),
            (f"```python\n{code.rstrip()}\n```", 0),
            ("Answer with one line: `SCORE: N/10` followed by one sentence of reasons.", 0),
        ],
        limit,
    )
