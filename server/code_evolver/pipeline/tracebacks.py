"""Mapping a run's error output (tracebacks, syntax errors, pytest failures) to a line."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["RunError", "error_summary", "exception_name", "parse_python_error"]

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
    """The error a run ended with; `line` (0-based) is set only when it is in the target file.

    `frames` are the 0-based lines of the target its traceback went through, outermost first
    (`line` is the last); `raised` names every exception type the output shows, chained ones too.
    """

    message: str
    line: int | None
    path: str | None
    frames: tuple[int, ...] = field(default=(), compare=False)
    raised: frozenset[str] = field(default=frozenset(), compare=False)


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
    raised = frozenset(filter(None, (exception_name(event.message) for event in events)))
    targets = [target_path, *aliases]
    same_file = _Matcher(targets)
    lengths = _LineCounts(targets)
    for matches in (same_file.exact, same_file.basename):
        previous_end = -1
        found: tuple[_Event, list[int]] | None = None
        for event in events:
            window = [f for f in frames if previous_end < f.index <= event.end]
            in_target = [
                line
                for f in window
                if matches(f.path) and (line := lengths.place(f.path, f.line)) is not None
            ]
            if in_target:
                found = (event, in_target)
            previous_end = event.end
        if found is not None:
            event, lines = found
            return RunError(event.message, lines[-1], target_path, tuple(lines), raised)
    last = events[-1]
    previous_end = events[-2].end if len(events) > 1 else -1
    window = [f for f in frames if previous_end < f.index <= last.end]
    return RunError(last.message, None, window[-1].path if window else None, (), raised)


def exception_name(message: str) -> str | None:
    """`ValueError` for `ValueError: bad value` (and for `mod.ValueError: ...`), else None."""
    match = _EXCEPTION.match(message.strip())
    return match["name"].rsplit(".", 1)[-1] if match is not None else None


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
    return _Scanner(text).scan()


class _Scanner:
    """One pass over a run's output, line by line, collecting frames and error events."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.frames: list[_Frame] = []
        self.events: list[_Event] = []
        self.summaries: list[_Event] = []
        # A traceback with no exception line after it was cut short; it is still an error.
        self.in_traceback = self.in_group = self.saw_traceback = False
        self.e_lines: list[str] = []
        self.e_start = -1

    def scan(self) -> tuple[list[_Frame], list[_Event]]:
        for index, raw in enumerate(self.lines):
            self._line(index, raw)
        self._close_e_group(len(self.lines))
        events = self.events
        if not events and self.summaries:
            events = self.summaries
        if not events and self.saw_traceback:
            filled = [line.strip() for line in self.lines if line.strip()]
            events = [_Event(0, len(self.lines), filled[-1])]
        return self.frames, events

    def _close_e_group(self, index: int) -> None:
        if self.e_lines:
            self.events.append(_Event(self.e_start, index - 1, _pytest_message(self.e_lines)))
            self.e_lines = []

    def _line(self, index: int, raw: str) -> None:
        if "Exception Group Traceback" in raw:
            self.in_group = True
        line = _GROUP_PREFIX.sub("", raw) if self.in_group else raw
        e_line = _PYTEST_E.match(line)
        if e_line is not None:
            if not self.e_lines:
                self.e_start = index
            self.e_lines.append(e_line["text"] or "")
        else:
            self._close_e_group(index)
        if _TRACEBACK.match(line):
            self.in_traceback = self.saw_traceback = True
            return
        python_frame = _PYTHON_FRAME.match(line)
        if python_frame is not None:
            self.frames.append(_Frame(index, python_frame["path"], int(python_frame["line"])))
            self.in_traceback = e_line is None
            self.saw_traceback = True
            return
        if e_line is not None or self._pytest_frame(index, line):
            return
        summary = _SUMMARY.match(line)
        if summary is not None:
            self.summaries.append(_Event(index, index, summary["message"] or line.strip()))
            return
        exception = _EXCEPTION.match(line)
        if exception is not None and (
            self.in_traceback or _EXCEPTION_NAME.search(exception["name"])
        ):
            self.events.append(_Event(index, index, line.strip()))
            self.in_traceback = False

    def _pytest_frame(self, index: int, line: str) -> bool:
        """A pytest `path:line: rest` frame; True when the line was one."""
        pytest_frame = _PYTEST_FRAME.match(line)
        if pytest_frame is None or _WARNING.match(pytest_frame["rest"] or ""):
            return False
        self.frames.append(_Frame(index, pytest_frame["path"], int(pytest_frame["line"])))
        rest = (pytest_frame["rest"] or "").strip()
        # `mod.py:2: ZeroDivisionError` is where the E lines just above it happened.
        named = _EXCEPTION.fullmatch(rest) is not None and ":" not in rest
        events = self.events
        if events and named and _follows(self.lines, events[-1], index):
            events[-1].end = index
            if events[-1].message.startswith("assert ") and rest == "AssertionError":
                events[-1].message = f"AssertionError: {events[-1].message}"
        return True


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
