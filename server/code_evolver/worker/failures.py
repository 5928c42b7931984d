"""How a job that ended without a result is put to the user: one sentence, and the log's details."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from ..cancel import Cancelled
from ..llm import AllEndpointsFailed, LLMError


class UserError(Exception):
    """A request that cannot be served, with the sentence to show."""


@dataclass(frozen=True)
class Failure:
    """A job that ended without a result: the sentence for the user and the log's details."""

    sentence: str
    detail: str
    cancelled: bool = False


def failure_of(error: BaseException) -> Failure:
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
