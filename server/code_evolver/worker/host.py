"""The worker process as the language server sees it: jobs in, steps and outcomes out.

Everything here runs on the server's event loop except `close`, which may also run after the
loop has ended. Frames both ways go through the loop's own pipe transports: no thread of ours
competes with the loop for the GIL, and a large job never blocks it on a full pipe.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..cancel import CancelToken
from ..pipeline.jobs import Job
from ..values import Step
from .failures import Failure
from .framing import FrameBuffer, encode

log = logging.getLogger("code_evolver.lsp")

# A worker that exits before its first frame is started again after 5 s, then 10, 20, ... 60.
START_RETRY_FIRST = 5.0
START_RETRY_MAX = 60.0
_STDERR_LINE_MAX = 8192
_Outcome = TypeVar("_Outcome")

HealthListener = Callable[[dict[str, Any]], None]


class JobFailed(Exception):
    """The worker ran the job and it failed; `failure` says how, in words for the user."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.sentence)
        self.failure = failure


class WorkerGone(Exception):
    """The worker process ended or could not start; the job's outcome is lost."""


@dataclass
class _Pending:
    future: asyncio.Future[Any]
    step: Step | None


class _Pipe(asyncio.Protocol):
    """The worker's frames; the first one tells that it started."""

    def __init__(self, host: JobHost, process: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.process = process
        self.buffer = FrameBuffer()

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.buffer.feed(data)
        except Exception as error:  # not our frames: the worker is broken beyond use
            log.error("The Code Evolver worker sent an unreadable reply (%s); restarting.", error)
            self.host.abandon("it sent an unreadable reply", self.process)
            return
        if messages:
            self.host.started_up(self.process)
        for message in messages:
            self.host.dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.host.stdout_closed(self.process)


class _Stderr(asyncio.Protocol):
    """The worker's stderr: each line to our log (the editor's output), the last ones kept.

    A worker that cannot start (a dependency missing from this Python, say) says why only
    there, in a traceback whose last line is the reason.
    """

    def __init__(self) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.closed = asyncio.get_running_loop().create_future()
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > _STDERR_LINE_MAX:  # no newline in sight: keep memory bounded
            lines.append(self._partial[:_STDERR_LINE_MAX])
            self._partial = b""
        for raw in lines:
            self._line(raw)

    def _line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            self.tail.append(line)
            log.warning("worker: %s", line)

    def connection_lost(self, exc: Exception | None) -> None:
        self._line(self._partial)
        self._partial = b""
        if not self.closed.done():
            self.closed.set_result(None)

    def reason(self) -> str:
        """The last line that reads like an error (a traceback's last line), or ''."""
        for line in reversed(self.tail):
            if not line.startswith((" ", "Traceback")):
                return line[:300]
        return ""


class JobHost:
    """Starts the worker on first use, and again after it died; jobs never outlive it."""

    def __init__(self, on_health: HealthListener) -> None:
        self.on_health = on_health
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: _Stderr | None = None
        # Whether the running worker has sent a frame yet; one that exits before it never
        # started, and is not tried again until the back-off has passed.
        self._started = False
        self._start_failures = 0
        self._retry_at = 0.0
        self._start_failure = ""
        self._stdin: asyncio.WriteTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending: dict[int, _Pending] = {}
        self._next = 0
        self._configure: dict[str, Any] | None = None
        self._start_lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # ------------------------------------------------------------ requests

    def configure(self, config_path: str | None, overrides: Any, trusted: bool) -> None:
        """What the worker loads its settings from; kept and sent again after a restart."""
        self._configure = {
            # The worker runs elsewhere: a relative path would name another file there.
            "config_path": os.path.abspath(config_path) if config_path else None,
            "overrides": dict(overrides or {}),
            "trusted": trusted,
        }
        if self._process is not None:
            self._send(("configure", self._configure))

    async def start(self) -> None:
        """Start the worker now (it is started on first use otherwise)."""
        async with self._start_lock:
            if self._process is None or self._process.poll() is not None:
                wait = self._retry_at - time.monotonic()
                if self._start_failure and wait > 0:
                    raise WorkerGone(
                        f"{self._start_failure}, then try again in {math.ceil(wait)} s."
                    )
                await self._spawn()

    async def run(self, job: Job[_Outcome], step: Step, cancel: CancelToken) -> _Outcome:
        """Run `job` in the worker; `cancel` stops it there. Raises JobFailed or WorkerGone."""
        result: _Outcome = await self._request("job", job, step, cancel)
        return result

    async def status(self) -> dict[str, Any]:
        payload: dict[str, Any] = await self._request("status", None, None, None)
        return payload

    async def _request(
        self, op: str, body: Any, step: Step | None, cancel: CancelToken | None
    ) -> Any:
        await self.start()
        loop = asyncio.get_running_loop()
        self._next += 1
        number = self._next
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[number] = _Pending(future, step)
        self._send((op, number, body) if op == "job" else (op, number))
        remove = (
            cancel.add_callback(lambda: self._send(("cancel", number)))
            if cancel is not None
            else (lambda: None)
        )
        try:
            return await future
        finally:
            remove()
            self._pending.pop(number, None)

    # ------------------------------------------------------------ the process

    async def _spawn(self) -> None:
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH", "")) if p
        )
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "code_evolver.worker.process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                # `python -m` puts the working directory first on sys.path: a requests.py or
                # yaml.py in the user's project must not replace the real ones in the worker.
                cwd=package_parent,
                close_fds=True,
            )
        except OSError as error:
            raise WorkerGone(
                f"Could not start the Code Evolver worker ({sys.executable} -m "
                f"code_evolver.worker.process): {error}. Check that the Python running the server "
                "can still run it."
            ) from None
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: _Pipe(self, process), process.stdout)
        _, stderr = await loop.connect_read_pipe(_Stderr, process.stderr)
        stdin, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, process.stdin)
        self._process, self._stdin, self._loop = process, stdin, loop
        self._stderr, self._started = stderr, False
        self._loop_thread = threading.get_ident()
        if self._configure is not None:
            self._send(("configure", self._configure))
        log.info("Code Evolver worker started (pid %d)", process.pid)

    def _send(self, message: Any) -> None:
        """Queue a frame to the worker; callable from any thread (a cancel may come from one)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._write(encode(message))
        else:
            loop.call_soon_threadsafe(self._write, encode(message))

    def _write(self, data: bytes) -> None:
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.write(data)

    def dispatch(self, message: Any) -> None:
        kind = message[0]
        if kind == "step":
            pending = self._pending.get(message[1])
            if pending is not None and pending.step is not None:
                pending.step(message[2])
        elif kind == "log":
            logging.getLogger(message[2]).log(message[1], "%s", message[3])
        elif kind == "health":
            self.on_health(message[1])
        elif kind in ("done", "failed"):
            pending = self._pending.get(message[1])
            if pending is None or pending.future.done():
                return
            if kind == "done":
                pending.future.set_result(message[2])
            else:
                pending.future.set_exception(JobFailed(message[2]))

    def started_up(self, process: subprocess.Popen[bytes]) -> None:
        if process is self._process and not self._started:
            self._started = True
            self._start_failures, self._start_failure = 0, ""

    def stdout_closed(self, process: subprocess.Popen[bytes]) -> None:
        """The worker's frames ended. One that never started is heard out on stderr first,
        which may close a moment later: its last line is the reason to show."""
        stderr = self._stderr
        if self._started or process is not self._process or stderr is None:
            self.abandon("it exited", process)
            return

        def heard_out(_: object = None) -> None:
            timer.cancel()
            self.abandon("it exited", process)

        timer = asyncio.get_running_loop().call_later(1.0, heard_out)
        stderr.closed.add_done_callback(heard_out)

    def abandon(self, why: str, process: subprocess.Popen[bytes] | None = None) -> None:
        """The worker is gone: fail what it was doing; the next job starts a new one.

        `process`, when given, is the worker this news is about: an older one's pipes may
        close after a new worker has started, and must not take the new one down.
        """
        if process is not None and process is not self._process:
            return
        process, self._process = self._process, None
        self._close_stdin(process)
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        code = _reap(process, 5.0)
        if not self._started:
            self._failed_to_start(code)
        if self._pending:
            log.error(
                "The Code Evolver worker stopped (%s, exit code %s) with %d job(s) running.",
                why,
                code,
                len(self._pending),
            )
        sentence = (
            f"{self._start_failure}, then run the command again."
            if self._start_failure
            else f"The Code Evolver worker process stopped ({why}, exit code {code}) before it "
            "finished; nothing was changed. Run the command again; the Code Evolver log has "
            "the details."
        )
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(WorkerGone(sentence))

    def _failed_to_start(self, code: int | None) -> None:
        """Remember why the worker could not start, and wait longer before each new try."""
        reason = self._stderr.reason() if self._stderr is not None else ""
        self._start_failures += 1
        delay = min(START_RETRY_MAX, START_RETRY_FIRST * 2 ** (self._start_failures - 1))
        self._retry_at = time.monotonic() + delay
        self._start_failure = (
            f"The Code Evolver worker could not start ({sys.executable} -m "
            f"code_evolver.worker.process exited with code {code}"
            + (f": {reason}" if reason else "")
            + "); make sure this Python can import Code Evolver and its dependencies "
            "(reinstall it there)"
        )
        log.error("%s; next try in %.0f s at the earliest.", self._start_failure, delay)
        # The status bar says so too (the worker's own reports are what it shows otherwise);
        # a worker that starts later sends the endpoints' health, which replaces this.
        self.on_health({"healthy": 0, "total": 0, "text": "", "problem": f"{self._start_failure}."})

    def close(self, wait: float = 10.0) -> None:
        """End the worker: it cancels its jobs and kills their children, or is killed."""
        process, self._process = self._process, None
        self._close_stdin(process)  # the worker's signal to stop
        if process is not None:
            _reap(process, wait)

    def _close_stdin(self, process: subprocess.Popen[bytes] | None) -> None:
        """Close the worker's stdin now, even with the loop blocked or already closed.

        The transport would only close the pipe on a later turn of the loop, and close() waits
        for the worker synchronously, so the pipe itself is closed here as well.
        """
        stdin, self._stdin = self._stdin, None
        loop, self._loop = self._loop, None
        if (
            stdin is not None
            and not stdin.is_closing()
            and loop is not None
            and not loop.is_closed()
        ):
            with contextlib.suppress(Exception):
                stdin.abort()
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                process.stdin.close()


def _reap(process: subprocess.Popen[bytes], wait: float) -> int | None:
    try:
        return process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            return process.wait(timeout=5)
    return None
