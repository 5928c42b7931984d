"""A thread-safe cancellation token shared by the runner and the LLM client."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["CancelToken", "Cancelled"]


class Cancelled(Exception):
    """The operation was cancelled by the user or by the server shutting down."""

    def __init__(self, message: str = "The operation was cancelled") -> None:
        super().__init__(message)


class CancelToken:
    """A one-way switch: once cancelled it stays cancelled and runs its callbacks once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: list[Callable[[], object]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Cancel and run the callbacks; a failing callback does not stop the others."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        # Run outside the lock so a callback may use the token without deadlocking.
        first_error: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def add_callback(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Run `callback` on cancel (at once if already cancelled); returns its remover."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock, contextlib.suppress(ValueError):
                        self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None

    def raise_if_cancelled(self) -> None:
        if self._cancelled:
            raise Cancelled()
