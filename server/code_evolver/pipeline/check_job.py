"""The job of running a file once, as run on open and on save ask it of the worker."""

from __future__ import annotations

from dataclasses import dataclass

from ..values import Target
from .checker import Check, Checker
from .jobs import JobContext


@dataclass(frozen=True)
class CheckJob:
    """Run a file once (run_on_save, when it is opened or saved); a cancel stops the run."""

    target: Target
    source: str

    def perform(self, context: JobContext) -> Check:
        with Checker(
            self.target, context.settings, trusted=context.trusted, cancel=context.cancel
        ) as checker:
            return checker.check(self.source)
