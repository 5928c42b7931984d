"""What the user sees while work runs: a progress bar (cancellable) and one message at the end."""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from ..cancel import CancelToken

log = logging.getLogger("code_evolver.lsp")


def tell(
    server: LanguageServer, level: types.MessageType, sentence: str, detail: str | None = None
) -> None:
    """Show one sentence to the user and log it, with details when there are some."""
    server.window_show_message(types.ShowMessageParams(type=level, message=sentence))
    server.window_log_message(types.LogMessageParams(type=level, message=detail or sentence))


class Progress:
    """One cancellable progress bar; `step` may be called from any thread."""

    def __init__(
        self, server: LanguageServer, title: str, cancel: CancelToken, enabled: bool
    ) -> None:
        self.server = server
        self.title = title
        self.cancel = cancel
        self.enabled = enabled
        self.token = str(uuid.uuid4())
        self.loop = asyncio.get_running_loop()
        self.steps: list[str] = []
        self._open = False

    async def __aenter__(self) -> Progress:
        if self.enabled:
            try:
                await self.server.work_done_progress.create_async(self.token)
            except Exception as exc:  # a client may refuse; the work goes on without a bar
                log.info("Progress not available: %s", exc)
                self.enabled = False
        if self.enabled:
            self.server.work_done_progress.begin(
                self.token,
                types.WorkDoneProgressBegin(title=self.title, cancellable=True, message="Starting"),
            )
            self._open = True
            # pygls keeps a future per token in `work_done_progress.tokens` (an attribute its
            # Progress documents) and cancels it on window/workDoneProgress/cancel; it offers
            # no callback of its own. tests/test_pygls_patches.py checks both.
            future = self.server.work_done_progress.tokens.get(self.token)
            if future is not None:
                cancel = self.cancel.cancel
                future.add_done_callback(lambda done: cancel() if done.cancelled() else None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            self.server.work_done_progress.end(
                self.token,
                types.WorkDoneProgressEnd(message="Cancelled" if self.cancel.cancelled else "Done"),
            )
            # pygls never drops a finished token's future: a long session would keep every one.
            self.server.work_done_progress.tokens.pop(self.token, None)

    def step(self, message: str) -> None:
        """Report a step; thread-safe."""
        self.steps.append(message)
        log.info("%s: %s", self.title, message)
        if self.enabled:
            self.loop.call_soon_threadsafe(self._report, message)

    def _report(self, message: str) -> None:
        if self._open:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message[:200])
            )
