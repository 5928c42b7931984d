"""What a fix and a generation share: the model client, the settings and a checker for runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..cancel import CancelToken
from ..config import Settings
from ..llm import OllamaClient
from ..values import Target
from .checker import Checker
from .jobs import JobContext

_Session = TypeVar("_Session", bound="ModelSession")


class ModelSession:
    """One request's work with the model: the client, settings, a checker and its scratch files."""

    def __init__(
        self,
        client: OllamaClient,
        settings: Settings,
        target: Target,
        *,
        trusted: bool = True,
        cancel: CancelToken | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.target = target
        self.cancel = cancel
        self.on_step = on_step or (lambda _msg: None)
        self.checker = Checker(target, settings, trusted=trusted, cancel=cancel)

    @classmethod
    def for_job(cls: type[_Session], context: JobContext, target: Target) -> _Session:
        """The session a job's `perform` works in, with what the worker gave it."""
        return cls(
            context.client,
            context.settings,
            target,
            trusted=context.trusted,
            cancel=context.cancel,
            on_step=context.step,
        )

    def __enter__(self: _Session) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.checker.close()
