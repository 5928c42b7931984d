"""Value types that the language server and the worker both use: the file, its region, a stub.

Plain frozen dataclasses with no behaviour beyond their own fields, so both sides of the worker
pipe (and the pipeline's pure functions) can share them without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

# Reports one step of long work ("Attempt 2/3: verifying") to whoever shows progress.
Step = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """The file being worked on: where it lives and how to run it."""

    path: str  # absolute path of the real file
    language: str  # the editor's language id
    workspace_root: str

    @property
    def relative(self) -> str:
        try:
            rel = os.path.relpath(self.path, self.workspace_root)
        except ValueError:
            return os.path.basename(self.path)
        return os.path.basename(self.path) if rel.startswith("..") else rel


@dataclass(frozen=True)
class Region:
    """Lines start..end (0-based, inclusive) of the document that the model rewrites."""

    start: int
    end: int
    whole_file: bool


class CheckSummary(Protocol):
    """How one version of the file fared, as an outcome carries it: the pipeline's `Check` is
    one, and these values import nothing of the pipeline (it imports them)."""

    @property
    def failures(self) -> int: ...  # 0 means nothing is known broken; lower is better

    @property
    def summary(self) -> str: ...  # the error in one line

    @property
    def checked_by(self) -> str: ...  # what a clean check rests on

    @property
    def passed_tests(self) -> int: ...

    @property
    def passed_names(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Outcome:
    """What a fix or a generation produced. `new_source` is set only for a verified gain."""

    new_source: str | None
    region: Region | None
    replacement: str | None
    message: str
    attempts: int
    before: CheckSummary | None = None
    after: CheckSummary | None = None
    endpoints: tuple[str, ...] = field(default=())
    extra_files: tuple[tuple[str, str], ...] = ()
    # For fixes: "fixed" (the run is clean), "fixed_here" (clean where the fix was asked for,
    # failing elsewhere), "partial" (better, not fixed), or "" (no edit).
    verdict: str = ""

    @property
    def changed(self) -> bool:
        return self.new_source is not None


@dataclass(frozen=True)
class Stub:
    """A place in the document where code should be generated; lines are 0-based, inclusive."""

    kind: Literal["function", "comment", "selection"]
    start_line: int
    end_line: int
    indent: str
    name: str | None
    signature: str | None
    docstring: str | None
    request: str


@dataclass(frozen=True)
class DiagnosticInfo:
    """What the editor (or our run) said is wrong, in the model's terms."""

    message: str
    line: int  # 1-based, as people read it
    source: str | None = None
    code: str | None = None

    def render(self) -> str:
        origin = f" [{self.source}{' ' + self.code if self.code else ''}]" if self.source else ""
        return f"- line {self.line}: {self.message}{origin}"
