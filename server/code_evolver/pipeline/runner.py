"""Running user code safely: no shell, resource limits, capped output, killing the whole tree."""

from __future__ import annotations

import dataclasses
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
from ..sandbox.process_limits import DEFAULT_MAX_PROCESSES, RunLimits
from ..sandbox.run_status import SetupChannel, program_exit_code
from .run_child import RUN_MARK, child_environment, limiter
from .run_io import OutputCapture, feed, start_thread
from .run_report import REPORT_VARIABLE, ReportChannel
from .run_wait import wait_and_kill

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
    # What in-run code said on the run's private channel (run_report.py); None: not asked for.
    report: tuple[str, ...] | None = None
    # The sandbox's first process said on its private pipe that it could not be set up; the
    # program never started. The only thing that may send a run to the copy fallback.
    setup_failed: bool = False
    # Stopped for a limit over all of its processes (sandbox/process_limits.py): "processes"
    # (more than max_processes at once, threads included) or "cpu" (cpu_limit s in all).
    over_limit: str | None = None
    max_processes: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    @property
    def out_of_cpu(self) -> bool:
        """Stopped by its CPU-time limit: SIGXCPU at the limit (SIGKILL a second later)."""
        return self.cpu_limit is not None and self.exit_code == -getattr(signal, "SIGXCPU", -1)

    @property
    def hit_limit(self) -> bool:
        """Stopped for taking too long (the wall clock, the CPU-time limit of one process or
        of all of them), or for starting too many processes."""
        return self.timed_out or self.out_of_cpu or self.over_limit is not None

    def describe(self) -> str:
        """One short sentence on how the run ended, for the user."""
        program = os.path.basename(self.argv[0]) if self.argv else "the command"
        if self.cancelled:
            text = f"{program} was cancelled and stopped"
        elif self.over_limit == "processes":
            text = f"{program} was stopped: it started more than {self.max_processes} processes"
        elif self.over_limit == "cpu":
            used = f"its processes used {self.cpu_limit} s of CPU time in all"
            text = f"{program} was stopped: {used}"
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
    report: bool = False,
    max_processes: int | None = DEFAULT_MAX_PROCESSES,
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
    `report`: the run gets a private report channel (run_report.py), its lines in `.report`.
    All of the run's processes together may use `cpu_limit_s` of CPU time and be at most
    `max_processes` at once (sandbox/process_limits.py: cgroups, else a watch of /proc).
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
        report,
        time.monotonic(),
        max_processes,
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
    report: bool
    started: float
    max_processes: int | None = None

    def not_started(self, reason: str) -> RunResult:
        return _not_started(self.args, reason, self.timeout)


@dataclass
class _Channels:
    """The run's private descriptors: the sandbox's set-up status and the in-run report."""

    setup: SetupChannel | None = None
    report: ReportChannel | None = None

    @classmethod
    def for_plan(cls, plan: _Plan) -> _Channels:
        channels = cls()
        try:
            if plan.namespace is not None:
                channels.setup = SetupChannel()
            if plan.report:
                channels.report = ReportChannel()
        except OSError:
            channels.close()
            raise
        return channels

    @property
    def child_fds(self) -> tuple[int, ...]:
        return self.report.child_fds if self.report is not None else ()

    def started_child(self) -> None:
        for channel in (self.setup, self.report):
            if channel is not None:
                channel.started_child()

    def close(self) -> None:
        for channel in (self.setup, self.report):
            if channel is not None:
                channel.close()


def _spawn(
    plan: _Plan, channels: _Channels, limits: RunLimits
) -> subprocess.Popen[bytes] | RunResult:
    args, command, env = plan.args, list(plan.args), plan.env
    stdin: int = subprocess.PIPE if plan.stdin_data is not None else subprocess.DEVNULL
    if plan.namespace is not None:
        # The namespace's first process starts the program, so an unknown command is caught
        # here, where it can still be said plainly.
        if shutil.which(args[0], path=plan.env.get("PATH")) is None:
            return plan.not_started(f"command not found: {args[0]}")
        assert channels.setup is not None
        given = os.devnull
        if plan.stdin_data is not None:
            given = plan.namespace.input_path
            with open(given, "w", encoding="utf-8") as handle:
                handle.write(plan.stdin_data)
        command = plan.namespace.command(args, plan.cwd, input_path=given)
        stdin = channels.setup.write_fd  # the first process's; the program reads `given`
    if channels.report is not None:
        env = {**env, REPORT_VARIABLE: channels.report.variable}
    try:
        process = subprocess.Popen(
            command,
            cwd=plan.cwd,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            pass_fds=channels.child_fds,
            start_new_session=os.name == "posix",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            # Limits and priority are set in the child before exec, so no instruction of the
            # user's code runs without them. A preexec_fn makes CPython fork() with the GIL held;
            # runs happen in the worker process, so that pauses other jobs, never the editor.
            preexec_fn=(
                limiter(plan.memory_limit_mb, plan.cpu, cgroups=limits.join, nproc=limits.nproc)
                if os.name == "posix"
                else None
            ),
        )
    except FileNotFoundError:
        return plan.not_started(f"command not found: {args[0]}")
    except PermissionError:
        return plan.not_started(f"permission denied: {args[0]}")
    except (OSError, subprocess.SubprocessError) as error:
        return plan.not_started(f"could not start {args[0]}: {error}")
    channels.started_child()
    limits.started(process.pid)
    return process


def _run_started(plan: _Plan) -> RunResult:
    try:
        channels = _Channels.for_plan(plan)
    except OSError as error:
        return plan.not_started(f"could not make the run's private pipes: {error}")
    mark, contained = f"{RUN_MARK}={plan.env[RUN_MARK]}", plan.namespace is not None
    limits = RunLimits.for_run(plan.max_processes, plan.cpu, mark, contained=contained)
    try:
        process = _spawn(plan, channels, limits)
        if isinstance(process, RunResult):
            return process
        return _finish(plan, process, channels, limits)
    finally:
        channels.close()
        limits.close()


def _finish(
    plan: _Plan, process: subprocess.Popen[bytes], channels: _Channels, limits: RunLimits
) -> RunResult:
    assert process.stdout is not None and process.stderr is not None
    limit = plan.output_limit
    stdout, stderr = OutputCapture(process.stdout, limit), OutputCapture(process.stderr, limit)
    if process.stdin is not None and plan.stdin_data is not None:
        start_thread(feed, process, plan.stdin_data)
    mark = None if plan.namespace is not None else plan.env[RUN_MARK]
    timed_out, cancelled, over_limit = wait_and_kill(
        process, limits, plan.wait_for, patient=plan.patient, cancel=plan.cancel, mark=mark
    )
    # One grace period for every pipe: a process that escaped the group holds them open.
    drained_by = time.monotonic() + _DRAIN_GRACE
    for capture in (stdout, stderr, channels.report):
        if capture is not None:
            capture.join(max(0.0, drained_by - time.monotonic()))
    exit_code = None if (timed_out or cancelled or over_limit) else process.returncode
    if channels.setup is not None and not cancelled:
        # Only the first process's own word on its pipe says whether the program started: a
        # program's exit code and output can never claim that the sandbox failed.
        problem = channels.setup.problem(exit_code, stderr.text())
        if problem is not None:
            return dataclasses.replace(plan.not_started(problem), setup_failed=True)
        if exit_code is not None:
            exit_code = program_exit_code(exit_code)
    report = channels.report
    return RunResult(
        argv=plan.args,
        exit_code=exit_code,
        stdout=stdout.text(),
        stderr=stderr.text(),
        timed_out=timed_out,
        cancelled=cancelled,
        truncated=stdout.truncated or stderr.truncated or (report is not None and report.truncated),
        duration=time.monotonic() - plan.started,
        timeout=plan.timeout,
        cpu_limit=plan.cpu,
        report=report.lines() if report is not None else None,
        over_limit=over_limit,
        max_processes=plan.max_processes,
    )


def python_run_command(path: str, *, python: str = sys.executable) -> list[str]:
    """The command that runs a Python file: through the wrapper that runs it as `python path`
    would and reports on the private channel whether it reached its end (sandbox/inrun/)."""
    from ..sandbox.inrun_files import SCRIPT_WRAPPER  # here: this function is the wrapper's user

    return [python, SCRIPT_WRAPPER, path]


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
