"""The child of a run: its environment, limits and priority set before exec, and killing
whatever it leaves behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

try:
    import resource
except ImportError:  # Not POSIX: no resource limits.
    resource = None  # type: ignore[assignment]

__all__ = ["RUN_MARK", "child_environment", "kill_group", "kill_marked", "limiter"]

# User code yields the CPU to the editor, the language server and its worker (nice 10).
_NICENESS = 15
# Where Linux's autogroup scheduling is on (most desktops), every session is scheduled as one
# group and a process's nice value counts only inside its group. A run starts a session of its
# own, so its group is given the lowest weight too; otherwise twenty runs starting at once each
# weigh as much as the editor and the language server together.
_AUTOGROUP = "/proc/self/autogroup"
_AUTOGROUP_NICENESS = b"19"
_PR_SET_PDEATHSIG = 1
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# The environment variable that marks every process of one run (see kill_marked).
RUN_MARK = "CODE_EVOLVER_RUN"


def child_environment(env: Mapping[str, str] | None, *, strip_secrets: bool) -> dict[str, str]:
    source = os.environ if env is None else env
    child = {
        name: value
        for name, value in source.items()
        if not (strip_secrets and any(word in name.upper() for word in _SECRET_WORDS))
    }
    child["PYTHONUNBUFFERED"] = "1"
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    return child


def _limits(
    memory_limit_mb: int | None, cpu_limit_s: int | None, nproc: int | None
) -> list[tuple[int, int]]:
    limits: list[tuple[int, int]] = [(resource.RLIMIT_CORE, 0)]
    if nproc is not None and hasattr(resource, "RLIMIT_NPROC"):
        limits.append((resource.RLIMIT_NPROC, nproc))
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


def limiter(
    memory_limit_mb: int | None,
    cpu_limit_s: int | None,
    *,
    cgroups: Sequence[str] = (),
    nproc: int | None = None,
) -> Callable[[], None]:
    """A preexec_fn: the run's cgroups (their cgroup.procs files, sandbox/process_limits.py),
    resource limits and a low priority for the child, set between fork and exec. It runs in the
    forked child, so it only calls what was looked up beforehand."""
    if resource is None:
        limits: list[tuple[int, int]] = []
        setrlimit = getrlimit = None
        infinity = -1
    else:
        limits = _limits(memory_limit_mb, cpu_limit_s, nproc)
        setrlimit, getrlimit = resource.setrlimit, resource.getrlimit
        infinity = resource.RLIM_INFINITY
    setpriority = getattr(os, "setpriority", None)
    which, niceness = getattr(os, "PRIO_PROCESS", 0), _NICENESS
    os_open, os_write, os_close, write_only = os.open, os.write, os.close, os.O_WRONLY
    autogroup = os.path.exists(_AUTOGROUP)
    death_signal = _death_signal()
    cpu_kind = getattr(resource, "RLIMIT_CPU", None)
    nproc_kind = getattr(resource, "RLIMIT_NPROC", None)
    join = tuple(cgroups)

    def prepare_child() -> None:
        if death_signal is not None:
            death_signal()
        for procs in join:  # first: every process the child starts is counted from the start
            try:
                fd = os_open(procs, write_only)
                try:
                    os_write(fd, b"0")  # 0: the writing process
                finally:
                    os_close(fd)
            except OSError:
                pass  # the runner sees it did not join and watches the run instead
        for kind, wanted in limits:
            try:
                _, hard = getrlimit(kind)
                soft = wanted if hard == infinity else min(wanted, hard)
                # A CPU limit's SIGXCPU can be caught: one second later SIGKILL cannot.
                if kind == cpu_kind:
                    hard = soft + 1 if hard == infinity else min(soft + 1, hard)
                elif kind == nproc_kind:
                    hard = soft  # not to be raised again by the run
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


def kill_group(process: subprocess.Popen[bytes], *, reaped: bool = False) -> None:
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


def kill_marked(mark: str) -> None:
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
