"""A job: the plain data the language server sends the worker, and `perform`, which does it.

Each pipeline owns its job beside its loop: `FixJob` in fix_loop.py, `GenerateJob` in
generate_loop.py, `TestsJob` in test_writer.py, `CheckJob` in check_job.py (beside checker.py).
The worker runs any of them the same way (`job.perform(context)`) and knows none of them; a
feature builds its job and reads its outcome, and nothing between the two changes when a
feature is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..cancel import CancelToken
from ..config import Settings
from ..llm import OllamaClient
from ..values import Step

__all__ = ["Job", "JobContext"]

_Outcome_co = TypeVar("_Outcome_co", covariant=True)


@dataclass(frozen=True)
class JobContext:
    """What a job gets in the worker: the model client, the settings, whether the workspace is
    trusted (untrusted: nothing runs), its cancel token and where its progress goes."""

    client: OllamaClient
    settings: Settings
    trusted: bool
    cancel: CancelToken
    step: Step


class Job(Protocol[_Outcome_co]):
    """Plain, picklable data from the editor's request; `perform` runs it to its end."""

    def perform(self, context: JobContext) -> _Outcome_co: ...
