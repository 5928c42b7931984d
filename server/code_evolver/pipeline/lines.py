"""Lines as LSP and Python count them: only \\n, \\r\\n and \\r end a line.

`str.splitlines` also breaks at form feeds, U+2028, NEL and \\x1c-\\x1e, which are ordinary
characters inside an LSP line (and inside a Python string); every place that cuts a document
into lines goes through `split_lines` so that line numbers agree with the editor's.
"""

from __future__ import annotations

import re

__all__ = ["LINE_END", "line_ending", "line_starts", "split_lines", "with_line_ending"]

LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str, *, keepends: bool = False) -> list[str]:
    """The lines of `text` by LSP rules; like str.splitlines, "" has none and a final line end
    opens no extra line. With `keepends`, the lines join back to `text` exactly."""
    lines: list[str] = []
    start = 0
    for match in LINE_END.finditer(text):
        lines.append(text[start : match.end() if keepends else match.start()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def line_starts(text: str) -> list[int]:
    """The offset at which each line starts; one more entry, len(text), closes the last."""
    starts = [0]
    starts.extend(match.end() for match in LINE_END.finditer(text))
    if starts[-1] != len(text):
        starts.append(len(text))
    return starts


def line_ending(text: str) -> str:
    """The file's own line ending: the first one it uses, "\\n" when it has none."""
    match = LINE_END.search(text)
    return match.group() if match else "\n"


def with_line_ending(code: str, ending: str) -> str:
    """`code` with every line end written as `ending`."""
    return LINE_END.sub(ending, code)
