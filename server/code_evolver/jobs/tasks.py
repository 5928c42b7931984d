"""The long work the editor asks for, as plain data in and plain data out.

The language server builds one of these jobs from the editor's request and the document as it
was; the worker process runs it with `perform` and sends back the outcome (or the sentence that
explains the failure). Nothing here knows about LSP.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..config import Settings
from ..llm import AllEndpointsFailed, LLMError, OllamaClient
from ..pipeline.checker import Check, Checker
from ..pipeline.fix import FixSession
from ..pipeline.generate import Generator, TestsOutcome
from ..status import render_status
from ..values import DiagnosticInfo, Outcome, Stub, Target

Step = Callable[[str], None]

MAX_WORKSPACE_FILES = 300
MAX_FILE_BYTES = 256 * 1024
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".tox",
        "build",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
    }
)


class UserError(Exception):
    """A request that cannot be served, with the sentence to show."""


@dataclass(frozen=True)
class FixJob:
    target: Target
    source: str
    diagnostics: tuple[DiagnosticInfo, ...]
    whole_file: bool = False


@dataclass(frozen=True)
class GenerateJob:
    target: Target
    source: str
    stub: Stub
    workspace_root: str
    # Open Python documents by path: their text in the editor wins over the file on disk.
    open_docs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TestsJob:
    target: Target
    source: str
    line: int


@dataclass(frozen=True)
class CheckJob:
    """Run a saved file once (run_on_save)."""

    target: Target
    source: str


Job = FixJob | GenerateJob | TestsJob | CheckJob
Result = Outcome | TestsOutcome | Check


def perform(
    job: Job,
    client: OllamaClient,
    settings: Settings,
    *,
    trusted: bool,
    cancel: CancelToken,
    step: Step,
) -> Result:
    """Run one job to its end; raises what explain() turns into a sentence."""
    if isinstance(job, CheckJob):
        with Checker(job.target, settings, trusted=trusted) as checker:
            return checker.check(job.source)
    if isinstance(job, FixJob):
        with FixSession(
            client, settings, job.target, trusted=trusted, cancel=cancel, on_step=step
        ) as session:
            return session.fix(job.source, job.diagnostics, whole_file=job.whole_file)
    with Generator(
        client, settings, job.target, trusted=trusted, cancel=cancel, on_step=step
    ) as generator:
        if isinstance(job, TestsJob):
            return generator.write_tests(job.source, job.line)
        sources: dict[str, str] = {}
        if settings.generate.related_functions:
            sources = workspace_sources(job.workspace_root, job.open_docs)
        sources.pop(job.target.path, None)
        return generator.generate(job.source, job.stub, sources)


def workspace_sources(root: str, open_docs: Mapping[str, str]) -> dict[str, str]:
    """Python sources of the workspace for the related-function search (open files win)."""
    sources: dict[str, str] = {}
    count = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            count += 1
            if count > MAX_WORKSPACE_FILES:
                break
            try:
                if os.path.getsize(path) > MAX_FILE_BYTES:
                    continue
                with open(path, encoding="utf-8") as handle:
                    sources[path] = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
    sources.update(open_docs)
    return sources


@dataclass(frozen=True)
class Failure:
    """A job that ended without a result: the sentence for the user and the log's details."""

    sentence: str
    detail: str
    cancelled: bool = False


def explain(error: BaseException) -> Failure:
    """One sentence for the user, and details for the log, for any failure of a job."""
    if isinstance(error, UserError):
        return Failure(str(error), str(error))
    if isinstance(error, AllEndpointsFailed):
        return Failure(error.summary, str(error))
    if isinstance(error, LLMError):
        return Failure(f"The model request failed: {error}", str(error))
    if isinstance(error, Cancelled):
        return Failure("Cancelled.", "cancelled", cancelled=True)
    detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return Failure(
        f"Code Evolver hit an internal error ({type(error).__name__}: {error}); details are "
        "in the Code Evolver log.",
        detail,
    )


def status_payload(client: OllamaClient) -> dict[str, Any]:
    """What the editor's status item shows: usable endpoints of all, and the full table."""
    healthy, total = client.health_summary()
    return {"healthy": healthy, "total": total, "text": render_status(client.status())}
