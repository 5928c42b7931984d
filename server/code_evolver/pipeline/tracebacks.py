"""Mapping a run's error output (tracebacks, syntax errors, pytest failures) to a line."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RunError", "error_summary", "parse_python_error"]

_TRACEBACK = re.compile(r"^\s*(?:Exception Group )?Traceback \(most recent call last\):\s*$")
_GROUP_PREFIX = re.compile(r"^\s*(?:[|+]-*\s?)+")
_PYTHON_FRAME = re.compile(r'^(?:E\s)?\s*File "(?P<path>[^"]+)", line (?P<line>\d{1,9})')
_PYTEST_FRAME = re.compile(
    r"^(?P<path>(?:[A-Za-z]:)?[^\s:][^:]*?\.pyw?):(?P<line>\d{1,9}):(?: (?P<rest>.*))?$"
)
_EXCEPTION = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?::(?: (?P<message>.*))?)?$")
_EXCEPTION_NAME = re.compile(r"(?:Error|Exception|Exit|Interrupt|Iteration|Group|Failed)$")
_PYTEST_E = re.compile(r"^E(?: {2,}(?P<text>.*))?$")
_WARNING = re.compile(r"^[\w.]*Warning: ")
_SUMMARY = re.compile(r"^(?:FAILED|ERROR) \S+(?: - (?P<message>.+))?$")


@dataclass(frozen=True)
class RunError:
    """The error a run ended with; `line` (0-based) is set only when it is in the target file."""

    message: str
    line: int | None
    path: str | None


@dataclass(frozen=True)
class _Frame:
    index: int
    path: str
    line: int


@dataclass
class _Event:
    start: int
    end: int
    message: str


def parse_python_error(
    stderr: str, target_path: str, *, aliases: Iterable[str] = ()
) -> RunError | None:
    """The final error in `stderr` and the deepest frame of it in `target_path`, or None.

    `aliases` are other paths that mean the target, such as a temporary copy that was run.
    When no frame is in the target, `path` names the deepest frame and `line` is None.
    The output is the program's to write, so a frame is only trusted with a line that exists
    in the file it names (one past the end, where Python reports an unexpected end of file,
    means the last line); the returned line is always within the file when it can be read.
    """
    frames, events = _scan(stderr)
    if not events:
        return None
    targets = [target_path, *aliases]
    same_file = _Matcher(targets)
    lengths = _LineCounts(targets)
    for matches in (same_file.exact, same_file.basename):
        previous_end = -1
        found: tuple[_Event, _Frame, int] | None = None
        for event in events:
            window = [f for f in frames if previous_end < f.index <= event.end]
            in_target = [
                (f, line)
                for f in window
                if matches(f.path) and (line := lengths.place(f.path, f.line)) is not None
            ]
            if in_target:
                found = (event, *in_target[-1])
            previous_end = event.end
        if found is not None:
            event, _, line = found
            return RunError(event.message, line, target_path)
    last = events[-1]
    previous_end = events[-2].end if len(events) > 1 else -1
    window = [f for f in frames if previous_end < f.index <= last.end]
    return RunError(last.message, None, window[-1].path if window else None)


def error_summary(stderr: str, limit: int = 200) -> str:
    """The error in one line for a progress message, e.g. `ZeroDivisionError: division by zero`.

    Falls back to the last non-blank line of output; "" when there is none.
    """
    _, events = _scan(stderr)
    if events:
        text = events[-1].message
    else:
        filled = [line.strip() for line in stderr.splitlines() if line.strip()]
        text = filled[-1] if filled else ""
    text = " ".join(text.split())
    limit = max(1, limit)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _scan(text: str) -> tuple[list[_Frame], list[_Event]]:
    """Frames and error events in order; pytest's summary lines count only if nothing else does."""
    frames: list[_Frame] = []
    events: list[_Event] = []
    summaries: list[_Event] = []
    lines = text.splitlines()
    # A traceback with no exception line after it was cut short; it is still an error.
    in_traceback = in_group = saw_traceback = False
    e_lines: list[str] = []
    e_start = -1

    def close_e_group(index: int) -> None:
        nonlocal e_lines
        if e_lines:
            events.append(_Event(e_start, index - 1, _pytest_message(e_lines)))
            e_lines = []

    for index, raw in enumerate(lines):
        if "Exception Group Traceback" in raw:
            in_group = True
        line = _GROUP_PREFIX.sub("", raw) if in_group else raw
        e_line = _PYTEST_E.match(line)
        if e_line is not None:
            if not e_lines:
                e_start = index
            e_lines.append(e_line["text"] or "")
        else:
            close_e_group(index)
        if _TRACEBACK.match(line):
            in_traceback = saw_traceback = True
            continue
        python_frame = _PYTHON_FRAME.match(line)
        if python_frame is not None:
            frames.append(_Frame(index, python_frame["path"], int(python_frame["line"])))
            in_traceback = e_line is None
            saw_traceback = True
            continue
        if e_line is not None:
            continue
        pytest_frame = _PYTEST_FRAME.match(line)
        if pytest_frame is not None and not _WARNING.match(pytest_frame["rest"] or ""):
            frames.append(_Frame(index, pytest_frame["path"], int(pytest_frame["line"])))
            rest = (pytest_frame["rest"] or "").strip()
            # `mod.py:2: ZeroDivisionError` is where the E lines just above it happened.
            named = _EXCEPTION.fullmatch(rest) is not None and ":" not in rest
            if events and named and _follows(lines, events[-1], index):
                events[-1].end = index
                if events[-1].message.startswith("assert ") and rest == "AssertionError":
                    events[-1].message = f"AssertionError: {events[-1].message}"
            continue
        summary = _SUMMARY.match(line)
        if summary is not None:
            summaries.append(_Event(index, index, summary["message"] or line.strip()))
            continue
        exception = _EXCEPTION.match(line)
        if exception is not None and (in_traceback or _EXCEPTION_NAME.search(exception["name"])):
            events.append(_Event(index, index, line.strip()))
            in_traceback = False
    close_e_group(len(lines))
    if not events and summaries:
        events = summaries
    if not events and saw_traceback:
        filled = [line.strip() for line in lines if line.strip()]
        events = [_Event(0, len(lines), filled[-1])]
    return frames, events


def _follows(lines: list[str], event: _Event, index: int) -> bool:
    """Whether line `index` comes right after pytest E lines of `event`, blank lines aside."""
    return lines[event.end].startswith("E") and not any(
        line.strip() for line in lines[event.end + 1 : index]
    )


def _pytest_message(texts: list[str]) -> str:
    """The message of a group of pytest `E` lines: the exception line, else the first line."""
    stripped = [text.strip() for text in texts if text.strip()]
    if not stripped:
        return "Error"
    for text in reversed(stripped):
        exception = _EXCEPTION.match(text)
        if exception is not None and _EXCEPTION_NAME.search(exception["name"]):
            return text
    return stripped[0]


class _Matcher:
    """Decides whether a frame's path means the target file."""

    def __init__(self, targets: list[str]) -> None:
        self._resolved = {_resolve(t) for t in targets if t} - {None}
        self._basenames = {os.path.basename(t) for t in targets if t} - {""}

    def exact(self, path: str) -> bool:
        resolved = _resolve(path)
        if resolved is not None and resolved in self._resolved:
            return True
        if os.path.isabs(path):
            return False
        # A relative path in pytest output is relative to a directory we do not know.
        suffix = os.sep + os.path.normcase(os.path.normpath(path))
        return any(t.endswith(suffix) for t in self._resolved if t)

    def basename(self, path: str) -> bool:
        return os.path.basename(path) in self._basenames


class _LineCounts:
    """How many lines the files named in frames have, read once each (None: unreadable)."""

    _LINE_END = re.compile(rb"\r\n|\r|\n")

    def __init__(self, targets: list[str]) -> None:
        self._targets = [t for t in targets if t]
        self._known: dict[str, int | None] = {}

    def count(self, path: str) -> int | None:
        if path not in self._known:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except (OSError, ValueError):
                self._known[path] = None
            else:
                pieces = len(self._LINE_END.split(data))
                self._known[path] = pieces - 1 if data.endswith((b"\n", b"\r")) else pieces
        return self._known[path]

    def place(self, path: str, line: int) -> int | None:
        """The 0-based line for a frame's 1-based `line`, or None when the file is shorter.

        A frame naming a file that cannot be read (a path relative to another directory) is
        checked against the longest of the target and its aliases.
        """
        count = self.count(path)
        if count is None:
            counts = [c for c in (self.count(t) for t in self._targets) if c is not None]
            if not counts:
                return max(0, line - 1)
            count = max(counts)
        if line > count + 1:
            return None
        return max(0, min(line, count) - 1)


def _resolve(path: str) -> str | None:
    try:
        return os.path.normcase(os.path.realpath(path))
    except (ValueError, OSError):
        return None
