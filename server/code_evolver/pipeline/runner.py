"""Running user code safely: no shell, resource limits, capped output, killing the whole tree."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..cancel import CancelToken
from ..sandbox.isolation import NamespaceRun
from ..sandbox.run_status import program_exit_code, setup_problem
from .run_child import RUN_MARK, child_environment, kill_group, kill_marked, limiter
from .run_clock import RunClock
from .run_io import ExitWatch, OutputCapture, feed, start_thread

_RUN_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
__all__ = [
    "RUN_MARK",
    "RunResult",
    "command_for",
    "find_test_file",
    "python_run_command",
    "run_and_capture",
]

# How long to wait for the output pipes to close once the process group is dead; a process
# that escaped the group (setsid) may hold them open forever.
_DRAIN_GRACE = 2.0


@dataclass(frozen=True)
class RunResult:
    """What a run did; exit_code is None when it never started or was killed by us."""

    argv: tuple[str, ...]
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    cancelled: bool
    truncated: bool
    duration: float
    timeout: float | None = None
    cpu_limit: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    @property
    def out_of_cpu(self) -> bool:
        """Stopped by its CPU-time limit: SIGXCPU at the limit (SIGKILL a second later)."""
        return self.cpu_limit is not None and self.exit_code == -getattr(signal, "SIGXCPU", -1)

    @property
    def hit_limit(self) -> bool:
        """Stopped for taking too long, by the wall clock or by the CPU-time limit."""
        return self.timed_out or self.out_of_cpu

    def describe(self) -> str:
        """One short sentence on how the run ended, for the user."""
        program = os.path.basename(self.argv[0]) if self.argv else "the command"
        if self.cancelled:
            text = f"{program} was cancelled and stopped"
        elif self.timed_out:
            seconds = self.timeout if self.timeout is not None else self.duration
            text = f"{program} timed out after {seconds:g} s and was stopped"
        elif self.out_of_cpu:
            text = (
                f"{program} timed out: it used its {self.cpu_limit} s of CPU time and was stopped"
            )
        elif self.exit_code is None:
            reason = self.stderr.strip().splitlines()[0] if self.stderr.strip() else "unknown"
            text = f"{program} could not be started ({reason})"
        elif self.exit_code < 0:
            text = f"{program} was killed by {_signal_name(-self.exit_code)}"
        elif self.exit_code == 0:
            text = f"{program} exited normally"
        else:
            text = f"{program} exited with code {self.exit_code}"
        return text + (" (output was truncated)" if self.truncated else "")


def run_and_capture(
    argv: Sequence[str],
    *,
    cwd: str,
    timeout: float = 10.0,
    output_limit: int = 1_000_000,
    env: Mapping[str, str] | None = None,
    strip_secrets: bool = True,
    memory_limit_mb: int | None = 2048,
    cpu_limit_s: int | None = None,
    stdin_data: str | None = None,
    cancel: CancelToken | None = None,
    namespace: NamespaceRun | None = None,
    patient: bool = False,
) -> RunResult:
    """Run `argv` (never through a shell) and capture its output.

    `timeout` is wall-clock time and `cpu_limit_s` CPU time (RLIMIT_CPU; by default the
    timeout's). `patient`: the timeout leaves out time the run spent waiting for a busy CPU
    (run_clock.py). With `namespace` the run happens in new user, mount, PID (and network)
    namespaces over an overlay of the project (sandbox/isolation.py): when it ends, every process
    it started ends. Without, the child gets its own session, so on timeout or cancel the whole
    process group is killed, grandchildren included, and what is left after a normal exit too.
    Either way the run is killed when the thread that started it ends (PR_SET_PDEATHSIG).
    stdout and stderr are each capped at `output_limit` bytes (the rest is read and dropped).
    A command that cannot be started gives exit_code None and the reason in stderr.
    """
    if isinstance(argv, str | bytes):
        raise TypeError("argv must be a sequence of arguments, not a string (no shell is used)")
    args = tuple(os.fspath(a) for a in argv)
    if not args:
        raise ValueError("argv is empty")
    if cancel is not None and cancel.cancelled:
        return RunResult(args, None, "", "", False, True, False, 0.0, timeout)
    if not os.path.isdir(cwd):
        return _not_started(args, f"working directory not found: {cwd}", timeout)

    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds, not NaN")
    # An infinite timeout (`run_timeout: .inf`) means no time limit, so no CPU limit either.
    wait_for = None if math.isinf(timeout) and timeout > 0 else max(0.0, timeout)
    if cpu_limit_s is not None:
        cpu: int | None = cpu_limit_s
    else:
        cpu = None if wait_for is None else math.ceil(wait_for) + 1
    plan = _Plan(
        args,
        cwd,
        {**child_environment(env, strip_secrets=strip_secrets), RUN_MARK: uuid.uuid4().hex},
        memory_limit_mb,
        cpu,
        wait_for,
        timeout,
        output_limit,
        stdin_data,
        cancel,
        namespace,
        patient,
        time.monotonic(),
    )
    # Runs share the machine with the editor: at most one per core at a time.
    while not _RUN_SLOTS.acquire(timeout=0.05):
        if cancel is not None and cancel.cancelled:
            return RunResult(args, None, "", "", False, True, False, 0.0, timeout)
    try:
        return _run_started(plan)
    finally:
        _RUN_SLOTS.release()


@dataclass(frozen=True)
class _Plan:
    """One run, as decided before it starts."""

    args: tuple[str, ...]
    cwd: str
    # Every process of this run carries the mark (RUN_MARK) in its environment, also one that
    # left the process group with setsid(); at the end those are found by it and killed too.
    # Inside a PID namespace the namespace does that, also for a child that dropped it.
    env: dict[str, str]
    memory_limit_mb: int | None
    cpu: int | None
    wait_for: float | None
    timeout: float
    output_limit: int
    stdin_data: str | None
    cancel: CancelToken | None
    namespace: NamespaceRun | None
    patient: bool
    started: float

    def not_started(self, reason: str) -> RunResult:
        return _not_started(self.args, reason, self.timeout)


def _spawn(plan: _Plan) -> subprocess.Popen[bytes] | RunResult:
    args, command = plan.args, list(plan.args)
    if plan.namespace is not None:
        # The namespace's first process starts the program, so an unknown command is caught
        # here, where it can still be said plainly.
        if shutil.which(args[0], path=plan.env.get("PATH")) is None:
            return plan.not_started(f"command not found: {args[0]}")
        command = plan.namespace.command(args, plan.cwd)
    try:
        return subprocess.Popen(
            command,
            cwd=plan.cwd,
            env=plan.env,
            stdin=subprocess.PIPE if plan.stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            start_new_session=os.name == "posix",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            # Limits and priority are set in the child before exec, so no instruction of the
            # user's code runs without them. A preexec_fn makes CPython fork() with the GIL held;
            # runs happen in the worker process, so that pauses other jobs, never the editor.
            preexec_fn=limiter(plan.memory_limit_mb, plan.cpu) if os.name == "posix" else None,
        )
    except FileNotFoundError:
        return plan.not_started(f"command not found: {args[0]}")
    except PermissionError:
        return plan.not_started(f"permission denied: {args[0]}")
    except (OSError, subprocess.SubprocessError) as error:
        return plan.not_started(f"could not start {args[0]}: {error}")


def _wait(plan: _Plan, process: subprocess.Popen[bytes]) -> None:
    """Wait for the process; TimeoutExpired when its time is up."""
    with ExitWatch(process) as watch:
        if not plan.patient:
            watch.wait(plan.wait_for)
            return
        clock = RunClock(process.pid, plan.wait_for)
        while True:
            try:
                watch.wait(clock.wait_step())
                return
            except subprocess.TimeoutExpired:
                if clock.expired():
                    raise


def _run_started(plan: _Plan) -> RunResult:
    process = _spawn(plan)
    if isinstance(process, RunResult):
        return process
    assert process.stdout is not None and process.stderr is not None
    limit = plan.output_limit
    stdout, stderr = OutputCapture(process.stdout, limit), OutputCapture(process.stderr, limit)
    if plan.stdin_data is not None:
        start_thread(feed, process, plan.stdin_data)

    stop_lock = threading.Lock()
    reaped = False
    cancelled = False

    def on_cancel() -> None:
        nonlocal cancelled
        with stop_lock:
            if not reaped:
                cancelled = True
                kill_group(process)

    cancel = plan.cancel
    remove_callback = cancel.add_callback(on_cancel) if cancel is not None else None
    timed_out = False
    try:
        _wait(plan, process)
    except subprocess.TimeoutExpired:
        with stop_lock:
            timed_out = not cancelled
            kill_group(process)
        process.wait()
    finally:
        if remove_callback is not None:
            remove_callback()
    with stop_lock:
        reaped = True
        # Whatever the child left behind, in its group or out of it, must not outlive the run.
        kill_group(process, reaped=True)
        if plan.namespace is None:
            kill_marked(plan.env[RUN_MARK])
    # One grace period for both pipes: a process that escaped the group holds both open.
    drained_by = time.monotonic() + _DRAIN_GRACE
    stdout.join(_DRAIN_GRACE)
    stderr.join(max(0.0, drained_by - time.monotonic()))
    exit_code = None if (timed_out or cancelled) else process.returncode
    if plan.namespace is not None and exit_code is not None:
        problem = setup_problem(exit_code, stderr.text())
        if problem is not None:
            return plan.not_started(problem)
        exit_code = program_exit_code(exit_code)
    return RunResult(
        argv=plan.args,
        exit_code=exit_code,
        stdout=stdout.text(),
        stderr=stderr.text(),
        timed_out=timed_out,
        cancelled=cancelled,
        truncated=stdout.truncated or stderr.truncated,
        duration=time.monotonic() - plan.started,
        timeout=plan.timeout,
        cpu_limit=plan.cpu,
    )


def python_run_command(path: str, *, python: str = sys.executable) -> list[str]:
    """The command that runs a Python file."""
    return [python, path]


def command_for(
    language_id: str,
    path: str,
    configured: Mapping[str, Sequence[str]],
    *,
    python: str = sys.executable,
) -> list[str] | None:
    """The command that runs `path`, from the configured commands or the built-in Python one.

    In configured commands `{file}` becomes the path and `{python}` the project's interpreter;
    an empty configured command turns running off for that language. None: no way to run it.
    """
    if language_id in configured:
        template = configured[language_id]
        if isinstance(template, str):
            raise TypeError(f"the run command for {language_id} must be a list, not a string")
        if not template:
            return None
        return [part.replace("{file}", path).replace("{python}", python) for part in template]
    if language_id == "python":
        return python_run_command(path, python=python)
    return None


def find_test_file(path: str, workspace_root: str) -> str | None:
    """The test file for a module: tests/test_mod.py, test_mod.py beside it, tests/mod_test.py.

    A test file is its own test file.
    """
    directory, filename = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(filename)
    if stem.startswith("test_") or stem.endswith("_test"):
        return os.path.abspath(path) if os.path.isfile(path) else None
    root = os.path.abspath(workspace_root)
    candidates = [
        os.path.join(root, "tests", f"test_{stem}{extension}"),
        os.path.join(directory, f"test_{stem}{extension}"),
        os.path.join(root, "tests", f"{stem}_test{extension}"),
        os.path.join(directory, "tests", f"test_{stem}{extension}"),
        os.path.join(root, "test", f"test_{stem}{extension}"),
        os.path.join(directory, f"{stem}_test{extension}"),
    ]
    return next((c for c in candidates if os.path.isfile(c)), None)


def _not_started(args: tuple[str, ...], reason: str, timeout: float) -> RunResult:
    return RunResult(args, None, "", reason, False, False, False, 0.0, timeout)


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    if name == "SIGXCPU":
        return "SIGXCPU (CPU time limit reached)"
    return name
