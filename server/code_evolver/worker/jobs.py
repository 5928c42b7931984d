"""The long work the editor asks for, as plain data in and plain data out.

The language server builds one of these jobs from the editor's request and the document as it
was; the worker process runs it with `perform` and sends back the outcome (or the sentence that
explains the failure). Nothing here knows about LSP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cancel import CancelToken
from ..config import Settings
from ..llm import OllamaClient
from ..pipeline.checker import Check, Checker
from ..pipeline.fix_loop import FixSession
from ..pipeline.generate_loop import Generator
from ..pipeline.test_writer import TestsOutcome, TestWriter
from ..pipeline.workspace import workspace_sources
from ..sandbox.report import run_report
from ..status import render_status
from ..values import DiagnosticInfo, Outcome, Step, Stub, Target


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
    """Run one job to its end; raises what failure_of() turns into a sentence."""
    if isinstance(job, CheckJob):
        with Checker(job.target, settings, trusted=trusted) as checker:
            return checker.check(job.source)
    if isinstance(job, FixJob):
        with FixSession(
            client, settings, job.target, trusted=trusted, cancel=cancel, on_step=step
        ) as session:
            return session.fix(job.source, job.diagnostics, whole_file=job.whole_file)
    if isinstance(job, TestsJob):
        with TestWriter(
            client, settings, job.target, trusted=trusted, cancel=cancel, on_step=step
        ) as writer:
            return writer.write_tests(job.source, job.line)
    with Generator(
        client, settings, job.target, trusted=trusted, cancel=cancel, on_step=step
    ) as generator:
        sources: dict[str, str] = {}
        if settings.generate.related_functions:
            sources = workspace_sources(job.workspace_root, job.open_docs)
        sources.pop(job.target.path, None)
        return generator.generate(job.source, job.stub, sources)


def status_payload(client: OllamaClient) -> dict[str, Any]:
    """What the editor's status item shows: usable endpoints of all, and the full table."""
    healthy, total = client.health_summary()
    return {
        "healthy": healthy,
        "total": total,
        # The endpoints' table, then which isolation runs get and which Python they use.
        "text": "\n".join([render_status(client.status()), *run_report(client.config.settings)]),
        **client.routing_summary(),
    }
