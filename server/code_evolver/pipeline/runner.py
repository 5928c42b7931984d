"""Running user code safely: no shell, resource limits, capped output, killing the whole tree."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from ..cancel import CancelToken
from ..sandbox.isolation import NamespaceRun

try:
    import resource
except ImportError:  # Not POSIX: no resource limits.
    resource = None  # type: ignore[assignment]

_RUN_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
# User code yields the CPU to the editor, the language server and its worker (nice 10).
_NICENESS = 15
# Where Linux's autogroup scheduling is on (most desktops), every session is scheduled as one
# group and a process's nice value counts only inside its group. A run starts a session of its
# own, so its group is given the lowest weight too; otherwise twenty runs starting at once each
# weigh as much as the editor and the language server together.
_AUTOGROUP = "/proc/self/autogroup"
_AUTOGROUP_NICENESS = b"19"
_PR_SET_PDEATHSIG = 1

__all__ = [
    "RunResult",
    "command_for",
    "find_test_file",
    "python_run_command",
    "run_and_capture",
]

_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# The environment variable that marks every process of one run (see _kill_marked).
RUN_MARK = "CODE_EVOLVER_RUN"
_CHUNK = 65_536
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
            text = f"{program} used its {self.cpu_limit} s of CPU time and was stopped"
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
) -> RunResult:
    """Run `argv` (never through a shell) and capture its output.

    `timeout` is wall-clock time and `cpu_limit_s` CPU time (RLIMIT_CPU; by default the
    timeout's). With `namespace` the run happens in new user, mount, PID (and network)
    namespaces over an overlay of the project (sandbox/ns_init.py): when it ends, every process
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
    started = time.monotonic()
    # Runs share the machine with the editor: at most one per core at a time.
    while not _RUN_SLOTS.acquire(timeout=0.05):
        if cancel is not None and cancel.cancelled:
            return RunResult(args, None, "", "", False, True, False, 0.0, timeout)
    try:
        return _run_started(
            args,
            cwd,
            env,
            strip_secrets,
            memory_limit_mb,
            cpu,
            wait_for,
            output_limit,
            stdin_data,
            cancel,
            started,
            timeout,
            namespace,
        )
    finally:
        _RUN_SLOTS.release()


def _run_started(
    args: tuple[str, ...],
    cwd: str,
    env: Mapping[str, str] | None,
    strip_secrets: bool,
    memory_limit_mb: int | None,
    cpu: int | None,
    wait_for: float | None,
    output_limit: int,
    stdin_data: str | None,
    cancel: CancelToken | None,
    started: float,
    timeout: float,
    namespace: NamespaceRun | None,
) -> RunResult:
    # Every process of this run carries the mark in its environment, also one that left the
    # process group with setsid(); at the end those are found by it and killed too. (Inside a
    # PID namespace the namespace does that, also for a child that dropped its environment.)
    mark = uuid.uuid4().hex
    child_env = {**_child_environment(env, strip_secrets=strip_secrets), RUN_MARK: mark}
    status = _StatusPipe() if namespace is not None else None
    command: Sequence[str] = args
    if namespace is not None and status is not None:
        # The namespace's first process starts the program, so an unknown command is caught
        # here, where it can still be said plainly.
        if shutil.which(args[0], path=child_env.get("PATH")) is None:
            status.close()
            return _not_started(args, f"command not found: {args[0]}", timeout)
        command = namespace.command(args, cwd, status.write_end)
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=child_env,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            pass_fds=(status.write_end,) if status is not None else (),
            start_new_session=os.name == "posix",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            # Limits and priority are set in the child before exec, so no instruction of the
            # user's code runs without them. A preexec_fn makes CPython fork() with the GIL held;
            # runs happen in the worker process, so that pauses other jobs, never the editor.
            preexec_fn=_limiter(memory_limit_mb, cpu) if os.name == "posix" else None,
        )
    except FileNotFoundError:
        return _not_started(args, f"command not found: {args[0]}", timeout)
    except PermissionError:
        return _not_started(args, f"permission denied: {args[0]}", timeout)
    except (OSError, subprocess.SubprocessError) as error:
        return _not_started(args, f"could not start {args[0]}: {error}", timeout)
    finally:
        if status is not None:
            status.close_write_end()

    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = _Capture(process.stdout, output_limit), _Capture(process.stderr, output_limit)
    if stdin_data is not None:
        _start_thread(_feed, process, stdin_data)

    stop_lock = threading.Lock()
    reaped = False
    cancelled = False

    def on_cancel() -> None:
        nonlocal cancelled
        with stop_lock:
            if not reaped:
                cancelled = True
                _kill_group(process)

    remove_callback = cancel.add_callback(on_cancel) if cancel is not None else None
    timed_out = False
    try:
        process.wait(timeout=wait_for)
    except subprocess.TimeoutExpired:
        with stop_lock:
            timed_out = not cancelled
            _kill_group(process)
        process.wait()
    finally:
        if remove_callback is not None:
            remove_callback()
    with stop_lock:
        reaped = True
        # Whatever the child left behind, in its group or out of it, must not outlive the run.
        _kill_group(process, reaped=True)
        if namespace is None:
            _kill_marked(mark)
    # One grace period for both pipes: a process that escaped the group holds both open.
    drained_by = time.monotonic() + _DRAIN_GRACE
    stdout.join(_DRAIN_GRACE)
    stderr.join(max(0.0, drained_by - time.monotonic()))
    duration = time.monotonic() - started
    exit_code = None if (timed_out or cancelled) else process.returncode
    if status is not None:
        said = status.read()
        if exit_code is not None:
            problem = _setup_problem(said, args[0])
            if problem is not None:
                return _not_started(args, problem, timeout)
            exit_code = _exit_code_from(said, exit_code)
    return RunResult(
        argv=args,
        exit_code=exit_code,
        stdout=stdout.text(),
        stderr=stderr.text(),
        timed_out=timed_out,
        cancelled=cancelled,
        truncated=stdout.truncated or stderr.truncated,
        duration=duration,
        timeout=timeout,
        cpu_limit=cpu,
    )


class _StatusPipe:
    """The pipe on which the namespace's first process says how the run ended."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)

    def close_write_end(self) -> None:
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1

    def read(self) -> list[str]:
        # The runner waited for `unshare`, which waits for its child: what was said is there.
        data = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(self.read_end, 4096):
                data += chunk
        self.close()
        return data.decode("utf-8", errors="replace").splitlines()

    def close(self) -> None:
        self.close_write_end()
        if self.read_end >= 0:
            os.close(self.read_end)
            self.read_end = -1


def _setup_problem(said: list[str], program: str) -> str | None:
    for line in said:
        word, _, rest = line.partition(" ")
        if word == "error":
            return f"the sandbox for the run could not be set up ({rest})"
        if word == "exec":
            number, _, reason = rest.partition(" ")
            if number == "2":
                return f"command not found: {program}"
            if number == "13":
                return f"permission denied: {program}"
            return f"could not start {program}: {reason}"
    return None


def _exit_code_from(said: list[str], fallback: int) -> int:
    """The program's own ending: its exit code, or minus the signal that killed it."""
    for line in said:
        word, _, number = line.partition(" ")
        if word in ("exit", "signal") and number.lstrip("-").isdigit():
            return int(number) if word == "exit" else -int(number)
    return fallback


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
        return [
            part.replace("{file}", path).replace("{python}", python) for part in template
        ]
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


# --- the child -------------------------------------------------------------------------------


def _child_environment(env: Mapping[str, str] | None, *, strip_secrets: bool) -> dict[str, str]:
    source = os.environ if env is None else env
    child = {
        name: value
        for name, value in source.items()
        if not (strip_secrets and any(word in name.upper() for word in _SECRET_WORDS))
    }
    child["PYTHONUNBUFFERED"] = "1"
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    return child


def _limits(memory_limit_mb: int | None, cpu_limit_s: int | None) -> list[tuple[int, int]]:
    limits: list[tuple[int, int]] = [(resource.RLIMIT_CORE, 0)]
    if memory_limit_mb is not None and hasattr(resource, "RLIMIT_AS"):
        limits.append((resource.RLIMIT_AS, memory_limit_mb * 1024 * 1024))
    if cpu_limit_s is not None:
        limits.append((resource.RLIMIT_CPU, max(1, cpu_limit_s)))
    return limits


def _death_signal() -> Callable[[], None] | None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL), looked up before fork: the kernel kills the child when
    the thread that started it ends. Runs start on the thread that waits for them, so that is
    the end of the run's job, or of the whole worker process if it is killed."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()
    getppid, exit_now, kill = os.getppid, os._exit, int(signal.SIGKILL)

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)
        if getppid() != parent:  # the worker died between fork and prctl
            exit_now(1)

    return set_death_signal


def _limiter(memory_limit_mb: int | None, cpu_limit_s: int | None) -> Callable[[], None]:
    """A preexec_fn: resource limits and a low priority for the child, set between fork and
    exec. It runs in the forked child, so it only calls what was looked up beforehand."""
    if resource is None:
        limits: list[tuple[int, int]] = []
        setrlimit = getrlimit = None
        infinity = -1
    else:
        limits = _limits(memory_limit_mb, cpu_limit_s)
        setrlimit, getrlimit = resource.setrlimit, resource.getrlimit
        infinity = resource.RLIM_INFINITY
    setpriority = getattr(os, "setpriority", None)
    which, niceness = getattr(os, "PRIO_PROCESS", 0), _NICENESS
    os_open, os_write, os_close, write_only = os.open, os.write, os.close, os.O_WRONLY
    autogroup = os.path.exists(_AUTOGROUP)
    death_signal = _death_signal()
    cpu_kind = getattr(resource, "RLIMIT_CPU", None)

    def prepare_child() -> None:
        if death_signal is not None:
            death_signal()
        for kind, wanted in limits:
            try:
                _, hard = getrlimit(kind)
                soft = wanted if hard == infinity else min(wanted, hard)
                # A CPU limit's SIGXCPU can be caught: one second later SIGKILL cannot.
                if kind == cpu_kind:
                    hard = soft + 1 if hard == infinity else min(soft + 1, hard)
                setrlimit(kind, (soft, hard))
            except (ValueError, OSError):
                pass  # A limit the platform refuses is not worth failing the run for.
        if setpriority is not None:
            try:  # noqa: SIM105 (between fork and exec: plain calls only)
                setpriority(which, 0, niceness)
            except OSError:
                pass  # already lower than that (raising it back needs privileges)
        if autogroup:  # the child leads a session of its own by now: this is its group alone
            try:
                fd = os_open(_AUTOGROUP, write_only)
                try:
                    os_write(fd, _AUTOGROUP_NICENESS)
                finally:
                    os_close(fd)
            except OSError:
                pass

    return prepare_child


def _kill_group(process: subprocess.Popen[bytes], *, reaped: bool = False) -> None:
    """SIGKILL the child's whole process group (its pgid is its pid: it leads a new session)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    elif not reaped:
        # Windows has no process groups to signal; taskkill /T walks the tree instead.
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        process.kill()


def _kill_marked(mark: str) -> None:
    """SIGKILL every process of ours whose environment carries this run's mark (Linux /proc).

    Two passes: a process killed in the first may have forked just before.
    """
    if not os.path.isdir("/proc/self"):
        return
    needle = f"{RUN_MARK}={mark}".encode()
    me = os.getpid()
    for _ in range(2):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle not in handle.read().split(b"\0"):
                        continue
                os.kill(int(entry), signal.SIGKILL)
                found = True
            except OSError:
                continue  # gone, or another user's process
        if not found:
            return


def _feed(process: subprocess.Popen[bytes], data: str) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data.encode("utf-8"))
        process.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # The child exited or closed its stdin without reading everything.


def _start_thread(target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


class _Capture:
    """Drains one pipe on a thread, keeping at most `limit` bytes and discarding the rest."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = max(0, limit)
        self._lock = threading.Lock()
        self._data = bytearray()
        self.truncated = False
        self._thread = _start_thread(self._drain)

    def _drain(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while chunk := read(_CHUNK):
                with self._lock:
                    room = self._limit - len(self._data)
                    if len(chunk) > room:
                        self.truncated = True
                    if room > 0:
                        self._data += chunk[:room]
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self._stream.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", errors="replace")


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
