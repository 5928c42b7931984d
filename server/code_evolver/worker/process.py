"""The worker process: runs fixes, generations and runs for the language server.

The language server keeps only the editor's conversation; every job runs here, in threads of
this process, so neither their Python work nor the GIL they hold ever delays the lightbulb.
Frames (jobs/wire.py) arrive on stdin and answers leave on the original stdout; anything else
that writes to stdout lands on stderr instead. When stdin closes (the language server ended,
however it ended) every job is cancelled, its children killed, and the process exits.

    python -m code_evolver.worker.process
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from ..cancel import CancelToken
from ..config import ConfigError, ConfigManager
from ..llm import OllamaClient
from ..pipeline.jobs import Job, JobContext
from ..sandbox.report import run_report
from ..status import render_status
from .failures import failure_of
from .framing import encode, read_frame

# Jobs mostly wait on models and runs: enough threads that fixes queue at the models, not here.
JOB_THREADS = 32
# The editor and the language server come first; user code runs lower still (runner.py).
WORKER_NICENESS = 10

log = logging.getLogger("code_evolver.worker")


class Worker:
    """Jobs by id, their cancel switches, and the model client they share."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._out_lock = threading.Lock()
        self._lock = threading.Lock()
        self.config = ConfigManager.defaults()
        self.client = OllamaClient(config_manager=self.config)
        self.trusted = True
        self.tokens: dict[int, CancelToken] = {}
        self.pool = ThreadPoolExecutor(max_workers=JOB_THREADS, thread_name_prefix="job")
        # Health changes come from job threads, often in bursts: one sender coalesces them.
        self._health_due = threading.Event()
        self._closing = False
        threading.Thread(target=self._send_health, name="health", daemon=True).start()

    # ------------------------------------------------------------ frames

    def send(self, message: Any) -> None:
        data = encode(message)
        with self._out_lock, contextlib.suppress(OSError, ValueError):
            self._out.write(data)
            self._out.flush()

    def handle(self, message: Any) -> None:
        op = message[0]
        if op == "configure":
            self.configure(**message[1])
        elif op == "job":
            self.start(message[1], message[2])
        elif op == "cancel":
            with self._lock:
                token = self.tokens.get(message[1])
            if token is not None:
                token.cancel()
        elif op == "status":
            self.send(("done", message[1], status_payload(self.client)))
        else:
            log.error("The worker got an unknown request %r; ignored.", op)

    # ------------------------------------------------------------ work

    def configure(self, config_path: str | None, overrides: Any, trusted: bool) -> None:
        try:
            config = ConfigManager(config_path, overrides or {}, discover=True)
        except ConfigError:
            config = ConfigManager.defaults()  # the language server already told the user
        old = self.client
        self.client = OllamaClient(config_manager=config)
        self.config, self.trusted = config, trusted
        old.close()
        self.client.add_health_listener(self._health_due.set)
        self._health_due.set()

    def start(self, number: int, job: Job) -> None:
        token = CancelToken()
        with self._lock:
            self.tokens[number] = token
        self.pool.submit(self._run, number, job, token)

    def _run(self, number: int, job: Job, token: CancelToken) -> None:
        client, settings, trusted = self.client, self.config.settings, self.trusted

        def step(message: str) -> None:
            self.send(("step", number, message))

        try:
            reply: Any = (
                "done",
                number,
                job.perform(JobContext(client, settings, trusted, token, step)),
            )
        except BaseException as error:  # every job ends with an answer
            reply = ("failed", number, failure_of(error))
        finally:
            with self._lock:
                self.tokens.pop(number, None)
        try:
            self.send(reply)
        except Exception as error:  # an outcome that cannot be pickled still gets an answer
            self.send(("failed", number, failure_of(error)))

    def _send_health(self) -> None:
        while not self._closing:
            self._health_due.wait()
            self._health_due.clear()
            if not self._closing:
                with contextlib.suppress(Exception):
                    self.send(("health", status_payload(self.client)))

    def close(self, wait: float = 10.0) -> None:
        """Cancel every job, give their children a moment to be killed, close sockets."""
        with self._lock:
            tokens = list(self.tokens.values())
        for token in tokens:
            token.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + wait
        while self.tokens and time.monotonic() < deadline:
            time.sleep(0.02)
        self._closing = True
        self._health_due.set()
        self.client.close()


class _FrameLog(logging.Handler):
    """Our log lines go to the language server, which shows them in the editor's log."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(logging.INFO)
        self.worker = worker

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.worker.send(("log", record.levelno, record.name, record.getMessage()))


def main() -> int:
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    # Frames own the real stdout; a stray print() anywhere must not corrupt them.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Parsing model replies and user code meets odd literals ("1_a"); Python's SyntaxWarning
    # about them would land in the editor's log as noise from the worker's stderr.
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    worker = Worker(out)
    ours = logging.getLogger("code_evolver")
    ours.addHandler(_FrameLog(worker))
    ours.setLevel(logging.INFO)
    ours.propagate = False
    stdin = sys.stdin.buffer
    status = 0
    try:
        while True:
            message = read_frame(stdin)
            if message is None:
                break
            worker.handle(message)
    except KeyboardInterrupt:
        pass
    except Exception as error:  # not a frame of ours: nothing more can be understood
        print(f"code-evolver worker: unreadable request, stopping: {error}", file=sys.stderr)
        status = 1
    finally:
        worker.close()
    return status


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


if __name__ == "__main__":
    raise SystemExit(main())
