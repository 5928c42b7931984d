"""Several model replies to one prompt at once, each with its own sampling, checked as they come.

A weak model sampled several times with different temperatures and seeds, every reply verified
by running it, fixes far more programs than one reply at a time. A round asks for as many
replies as the role's endpoints can serve at once (`fix.candidates` at most); the caller takes
each reply as it arrives and closes the round as soon as one is good, which cancels the other
requests (their connections close, so the servers stop generating).
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..llm import Generation, LLMError, OllamaClient
from ..values import Step

# The first candidate keeps the configured temperature; the others spread out from it, so one
# round holds both a careful reply and bolder ones.
_TEMPERATURE_STEPS = (0.0, 0.3, 0.6, 0.9, 0.45, 0.75, 0.15, 1.05)
_DEFAULT_TEMPERATURE = 0.2
_MAX_TEMPERATURE = 1.3


@dataclass(frozen=True)
class Sampling:
    """How one candidate is sampled."""

    temperature: float
    seed: int


@dataclass(frozen=True)
class Reply:
    """One candidate's answer: the generation, or why there is none."""

    index: int  # 1-based, in the order the candidates were asked for
    sampling: Sampling
    generation: Generation | None
    error: LLMError | None = None


def endpoint_capacity(client: OllamaClient, role: str) -> int:
    """How many requests the role's endpoints serve at once (each serves `max_parallel`)."""
    endpoints = client.role_settings(role).endpoints
    return max(1, sum(max(1, int(getattr(e, "max_parallel", 1) or 1)) for e in endpoints))


def samplings(count: int, base: float | None, rng: random.Random) -> list[Sampling]:
    """`count` samplings: temperatures stepped up from `base`, a fresh random seed each."""
    start = _DEFAULT_TEMPERATURE if base is None else float(base)
    out = []
    for index in range(count):
        step = _TEMPERATURE_STEPS[index % len(_TEMPERATURE_STEPS)]
        temperature = start if index == 0 else min(start + step, _MAX_TEMPERATURE)
        out.append(Sampling(round(temperature, 2), rng.randrange(1, 2**31 - 1)))
    return out


class CandidateRound:
    """Up to `count` requests for `prompt` in flight at once; iterate to get each reply as it
    arrives, `close()` to cancel the ones still running. Use it as a context manager."""

    def __init__(
        self,
        client: OllamaClient,
        prompt: str,
        sampling: list[Sampling],
        *,
        role: str = "generator",
        system: str | None = None,
        cancel: CancelToken | None = None,
        on_step: Step | None = None,
        session: str | None = None,
    ) -> None:
        self.client = client
        self.session = session
        self.prompt = prompt
        self.sampling = sampling
        self.role = role
        self.system = system
        self.cancel = cancel
        self.on_step = on_step
        self._tokens = [CancelToken() for _ in sampling]
        self._replies: queue.Queue[Reply | BaseException] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._unlink: Any = None

    def __enter__(self) -> CandidateRound:
        if self.cancel is not None:
            self._unlink = self.cancel.add_callback(self.close)
        for index, sampling in enumerate(self.sampling, start=1):
            thread = threading.Thread(
                target=self._ask, args=(index, sampling), name=f"candidate-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._unlink is not None:
            self._unlink()

    def close(self) -> None:
        """Cancel every request still in flight (their streams close at once)."""
        for token in self._tokens:
            token.cancel()

    def __iter__(self) -> Iterator[Reply]:
        """Each reply as it arrives; a cancellation of the whole request raises Cancelled."""
        for _ in self.sampling:
            item = self._replies.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def _ask(self, index: int, sampling: Sampling) -> None:
        options = {"temperature": sampling.temperature, "seed": sampling.seed}
        # Only the first candidate reports the client's own steps ("Generating at ..."):
        # four of them interleaved would say nothing useful.
        on_step = self.on_step if index == 1 else None
        try:
            generation = self.client.generate_full(
                prompt=self.prompt,
                model_key=self.role,
                system=self.system,
                options=options,
                on_step=on_step,
                cancel=self._tokens[index - 1],
                session=self.session,
            )
            self._replies.put(Reply(index, sampling, generation))
        except Cancelled as stopped:
            if self.cancel is not None and self.cancel.cancelled:
                self._replies.put(stopped)
            else:
                self._replies.put(Reply(index, sampling, None, None))
        except LLMError as error:
            self._replies.put(Reply(index, sampling, None, error))
        except BaseException as error:  # every candidate ends with an answer
            self._replies.put(error)
