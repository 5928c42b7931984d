"""One request to one endpoint: stream the reply, cap its size, time its first byte."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..cancel import Cancelled, CancelToken
from ..config import Endpoint
from .dialects import OllamaDialect, Request
from .errors import HTTPStatusError, LLMError, OutputTooLarge, StreamError
from .pool import HealthRegistry
from .transport import StreamLimits, Transport, reraise_unexpected


@dataclass(frozen=True)
class Reply:
    text: str
    seconds: float
    first_byte: float | None  # seconds to the first stream line (speed for `fastest`)
    chunks: int  # stream lines that carried text: about one token each


def send_once(
    transport: Transport,
    registry: HealthRegistry,
    endpoint: Endpoint,
    dialect: OllamaDialect,
    limits: StreamLimits,
    max_chars: int,
    what: tuple[str, Request],
    on_text: Callable[[str], None] | None,
    cancel: CancelToken | None,
) -> Reply:
    """Send `what` (model, request) to `endpoint`; every failure is an LLMError naming it."""
    model, request = what
    started = time.monotonic()
    pieces: list[str] = []
    size = 0
    url = endpoint.url
    first_byte: float | None = None
    chunks = 0
    with registry.track(url):
        try:
            lines = transport.stream_lines(
                url,
                request.path,
                request.body,
                headers=endpoint.headers(),
                limits=limits,
                cancel=cancel,
                line_parser=lambda raw: dialect.parse(raw, url),
            )
            # Closed on every way out, so an early exit (the character cap, a failing
            # on_text) closes the connection now instead of at garbage collection.
            with contextlib.closing(lines):
                for chunk in lines:
                    if chunk is None:
                        continue
                    if first_byte is None:
                        first_byte = time.monotonic() - started
                    if chunk.text:
                        chunks += 1
                        pieces.append(chunk.text)
                        size += len(chunk.text)
                        if size > max_chars:
                            raise OutputTooLarge(
                                f"the reply passed {max_chars} characters (max_output_chars)",
                                endpoint=url,
                            )
                        if on_text is not None:
                            on_text(chunk.text)
                    if chunk.done:
                        seconds = time.monotonic() - started
                        return Reply("".join(pieces), seconds, first_byte, chunks)
        except HTTPStatusError as error:
            raise dialect.classify(error, model) from None
        except (LLMError, Cancelled):
            raise
        except Exception as exc:  # a transport surprise must still fail over, not crash
            raise reraise_unexpected(exc, url) from exc
    raise StreamError("the stream ended before the reply was complete (no done line)", endpoint=url)
