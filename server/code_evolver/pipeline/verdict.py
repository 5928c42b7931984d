"""What a candidate's run says: fixed, fixed where it was asked to, better, or not a fix.

Pure functions over the checks (pipeline/checker.py) of the original, of the version a round
started from, and of the candidate.
"""

from __future__ import annotations

import re
from typing import Literal

from ..values import Region
from .checker import Check
from .completion import JudgedRun
from .lines import split_lines
from .stubs import enclosing_function
from .tracebacks import exception_name

# fixed: the run is clean. fixed_here: the error in the fixed function is gone and what still
# fails is elsewhere in the file. partial: better than where the round started, not clean.
Verdict = Literal["fixed", "fixed_here", "partial", "none"]

_SYNTAX_LINE = re.compile(r"\(line (\d+)\)\s*$")
_ERROR_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b")


def syntax_error_line(syntax_error: str | None) -> int | None:
    """The 0-based line of a `SyntaxError: ... (line N)` sentence, or None."""
    match = _SYNTAX_LINE.search(syntax_error or "")
    return int(match[1]) - 1 if match else None


def judge_run(
    original: Check,
    start: Check,
    after: Check,
    original_region: Region,
    region: Region,
    candidate: str,
) -> tuple[Verdict, str]:
    """The verdict on `after`, and for "none" why, in a phrase the model and the user read."""
    if after.syntax_error:
        return "none", after.syntax_error
    lost = _lost_test(original, after)
    if lost:
        return "none", lost
    run = original.run
    if (
        run is not None
        and not run.ok
        and run.stdout.strip()
        and after.run is not None
        and not _output_kept(run.stdout, after.run.stdout)
    ):
        return "none", "it no longer prints what the program printed before it failed"
    if after.failures == 0:
        return "fixed", ""
    if not region.whole_file and _fixed_inside(original, after, original_region, region, candidate):
        return "fixed_here", ""
    if after.failures < start.failures or _got_further(start, after):
        return "partial", ""
    return "none", "still has errors"


def what_changed(before: Check, after: Check) -> str:
    """ "SyntaxError gone; AssertionError remains at line 6" and the like."""
    old, new = _name(before), _name(after)
    if after.failures == 0:
        return f"{old} gone; the run is clean"
    line = _line(after)
    where = f" at line {line + 1}" if line is not None else ""
    if old != new:
        return f"{old} gone; {new} remains{where}"
    if before.failed_tests > after.failed_tests:
        return (
            f"{before.failed_tests - after.failed_tests} of {before.failed_tests} failing "
            f"test(s) pass now; {after.summary}"
        )
    return f"{before.summary} became {after.summary}{where}"


def _name(check: Check) -> str:
    summary = check.summary
    match = _ERROR_NAME.match(summary)
    if match:
        return match[1]
    return summary.split(":", 1)[0] if ":" in summary else summary


def _line(check: Check) -> int | None:
    if check.syntax_error:
        return syntax_error_line(check.syntax_error)
    return check.error.line if check.error is not None else None


def _lost_test(original: Check, after: Check) -> str:
    """A test that passed on the original and does not pass now, or a run that proves less
    than the original's (no report of its end, fewer tests, a new skip or xfail), as a phrase;
    or ""."""
    weaker = _unproven(after) or _fewer_tests(original, after)
    if weaker:
        return weaker
    if after.passed_tests < original.passed_tests:
        return f"{original.passed_tests - after.passed_tests} test(s) that passed before fail now"
    if original.passed_names and after.passed_names:
        lost = sorted(original.passed_names - after.passed_names)
        if lost:
            return f"the test {lost[0]} passed before and fails now"
    return ""


def _unproven(after: Check) -> str:
    """Why the candidate's run or test run did not prove it finished (completion.py), or ""."""
    for result in (after.run, after.tests):
        if isinstance(result, JudgedRun) and result.unproven:
            return result.unproven
    return ""


def _fewer_tests(original: Check, after: Check) -> str:
    """Fewer tests collected than on the original, or one skipped or xfailed that was not."""
    if original.collected is not None and (after.collected or 0) < original.collected:
        return (
            f"{original.collected - (after.collected or 0)} test(s) fewer were collected than "
            f"before ({after.collected or 0} of {original.collected})"
        )
    # A test of a file whose tests the original ran, or a file's outcome, that changed to a
    # skip: new. (A file the original could not collect may hold the user's own skips.)
    known = {node.split("::", 1)[0] for node in original.outcomes if "::" in node}
    for node, outcome in sorted(after.outcomes.items()):
        if outcome not in ("skipped", "xfailed") or original.outcomes.get(node) == outcome:
            continue
        if node in original.outcomes or node.split("::", 1)[0] in known:
            how = "is skipped" if outcome == "skipped" else "is an expected failure (xfail)"
            return f"the test {node} {how} now, and was not before"
    return ""


def _output_kept(before: str, after: str) -> bool:
    """The lines printed before the failure still lead the output, in order; a last line left
    unfinished (a prompt such as `name? `) may go on."""
    old = [line.rstrip() for line in split_lines(before) if line.strip()]
    new = [line.rstrip() for line in split_lines(after) if line.strip()]
    if not old:
        return True
    unfinished = not before.endswith(("\n", "\r"))
    whole = old[:-1] if unfinished else old
    if new[: len(whole)] != whole:
        return False
    return not unfinished or (len(new) > len(whole) and new[len(whole)].startswith(old[-1]))


def _inside(line: int | None, region: Region) -> bool:
    return line is not None and region.start <= line <= region.end


def _fixed_inside(
    original: Check, after: Check, original_region: Region, region: Region, candidate: str
) -> bool:
    """The original failed inside the fixed function; the candidate fails in another function,
    and not because of the fix.

    An error at the top level (a failing `assert` of the program's own, say) may well be the
    fixed function's doing, so it is not counted as elsewhere; nor is one the fix made a caller
    raise (`_made_by_the_fix`).
    """
    if not _inside(_line(original), original_region):
        return False
    line = _line(after)
    if line is None or _inside(line, region):
        return False
    span = enclosing_function(candidate, line)
    if span is None or (span[0] <= region.start and region.end <= span[1]):
        return False
    return not _made_by_the_fix(original, after, original_region, region, candidate)


def _made_by_the_fix(
    original: Check, after: Check, original_region: Region, region: Region, candidate: str
) -> bool:
    """The candidate's error is at a line the original's traceback went through (a caller of
    the fixed function), or is of a type the original did not raise and comes through a
    function of that traceback: a fix that swallowed a ValueError and left its caller a None
    to raise a TypeError on has moved the bug, not fixed it."""
    before, now = original.error, after.error
    if before is None or now is None:
        return False
    shift = region.end - original_region.end
    callers = [
        frame if frame < original_region.start else frame + shift
        for frame in before.frames
        if not _inside(frame, original_region)
    ]
    if now.line in callers:
        return True
    kind = exception_name(now.message)
    if kind is None or kind in before.raised:
        return False
    functions = {enclosing_function(candidate, line) for line in callers} - {None}
    return any(
        enclosing_function(candidate, frame) in functions
        for frame in now.frames
        if not _inside(frame, region)
    )


def _got_further(start: Check, after: Check) -> bool:
    """The same weight of failure, but a different error later in the run: the first problem
    is gone and the next one shows (two bugs in one function)."""
    if after.failures != start.failures or after.summary == start.summary:
        return False
    if start.run is None or after.run is None or start.run.ok or after.run.ok:
        return False
    printed = len(split_lines(after.run.stdout)) > len(split_lines(start.run.stdout))
    before_line, after_line = _line(start), _line(after)
    later = before_line is not None and after_line is not None and after_line > before_line
    return printed or later
