"""How many processes a run may have and how much CPU all of them may use together, enforced."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_PROCESSES",
    "FORCE_WATCH_VARIABLE",
    "GROUP_PREFIX",
    "POLL_SECONDS",
    "ProcessLimits",
    "RunLimits",
    "describe_process_limits",
    "process_limits_in_force",
    "sweep_dead_groups",
]
_CPU_MARGIN = 0.5  # seconds

# Tasks (processes and threads, as the kernel counts them) a run may have at once. Programs and
# test suites stay far below it (pytest-xdist's worker per core, thread pools of cores + 4, up
# to 64 cores); 256 Python processes already hold some 2.5 GB, so a fork bomb ends well before
# the editor feels it.
DEFAULT_MAX_PROCESSES = 256
# CODE_EVOLVER_PROCESS_LIMITS=watch skips the cgroups (the tests check the watch both ways).
FORCE_WATCH_VARIABLE = "CODE_EVOLVER_PROCESS_LIMITS"
POLL_SECONDS = 0.05
# A run's cgroup is named by its worker (pid and start time), so a dead worker's are swept.
GROUP_PREFIX = "code-evolver-run-"
# The namespace's scaffolding: unshare and the first process (isolation.py) are not the run's.
_SCAFFOLDING = 2
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class _Hierarchy:
    """A cgroup of ours, in which each run gets a cgroup of its own."""

    version: int  # 1 or 2
    base: str  # our own cgroup's folder
    controller: str  # "pids", "cpuacct" (v1) or "cpu" (v2's cpu.stat)

    @property
    def words(self) -> str:
        return f"cgroup v{self.version} {self.controller}"


@dataclass(frozen=True)
class ProcessLimits:
    """Where the count and the CPU total are enforced; None: watched by polling /proc."""

    pids: _Hierarchy | None
    cpu: _Hierarchy | None


def describe_process_limits(limits: ProcessLimits, max_processes: int, cpu: int | None) -> str:
    """One line for `status`: which limits a run gets and what enforces each."""
    watched = f"watched every {POLL_SECONDS * 1000:g} ms"
    count_how = limits.pids.words if limits.pids else watched
    if limits.pids is None and os.getuid() != 0:
        count_how += ", and RLIMIT_NPROC"
    if cpu is None:
        cpu_words = "no limit (fix.run_timeout is .inf)"
    else:
        cpu_words = f"{cpu} s over all processes ({limits.cpu.words if limits.cpu else watched})"
    return f"processes: at most {max_processes} ({count_how}); CPU: {cpu_words}"


_lock = threading.Lock()
_probed: ProcessLimits | None = None


def process_limits_in_force() -> ProcessLimits:
    """The cgroups runs can be put in (probed once), or none where they are forced off."""
    global _probed
    if os.environ.get(FORCE_WATCH_VARIABLE, "").strip().lower() == "watch":
        return ProcessLimits(None, None)
    with _lock:
        if _probed is None:
            _probed = _probe()
            sweep_dead_groups(_probed)
        return _probed


def _probe() -> ProcessLimits:
    if not os.path.isfile("/proc/self/cgroup"):
        return ProcessLimits(None, None)
    mounts, ours = _cgroup_mounts(), _own_cgroups()
    v2 = _usable(_base(mounts, ours, "cgroup2", ""), 2, "pids", "pids.max")
    if v2 is not None:
        return ProcessLimits(v2, _Hierarchy(2, v2.base, "cpu"))
    pids = _usable(_base(mounts, ours, "cgroup", "pids"), 1, "pids", "pids.max")
    cpu = _usable(_base(mounts, ours, "cgroup", "cpuacct"), 1, "cpuacct", "cpuacct.usage")
    return ProcessLimits(pids, cpu)


def _cgroup_mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, type, super options) of each cgroup file system mounted here."""
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields, _, tail = line.partition(" - ")
            head, rest = fields.split(), tail.split()
            if len(head) >= 5 and len(rest) >= 3 and rest[0] in ("cgroup", "cgroup2"):
                found.append((head[3], head[4], rest[0], set(rest[2].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """Our cgroup per controller ("" for the v2 hierarchy)."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as handle:
        for line in handle:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                for name in parts[1].split(",") if parts[1] else [""]:
                    found[name] = parts[2]
    return found


def _base(
    mounts: list[tuple[str, str, str, set[str]]], ours: dict[str, str], kind: str, name: str
) -> str | None:
    path = ours.get(name)
    if path is None:
        return None
    for root, point, fs_type, options in mounts:
        inside = path == root or path.startswith(root.rstrip("/") + "/")
        if fs_type == kind and (kind == "cgroup2" or name in options) and inside:
            return os.path.normpath(os.path.join(point, path[len(root.rstrip("/")) :].lstrip("/")))
    return None


def _usable(base: str | None, version: int, controller: str, probe: str) -> _Hierarchy | None:
    """The hierarchy, when a cgroup made in our own has the file that enforces the limit."""
    if base is None or not os.access(base, os.W_OK):
        return None
    folder = os.path.join(base, f"code-evolver-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(folder)
    except OSError:
        return None
    try:
        ready = os.path.isfile(os.path.join(folder, probe))
        ready = ready and os.access(os.path.join(folder, "cgroup.procs"), os.W_OK)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return _Hierarchy(version, base, controller) if ready else None


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError:
        return False
    return True


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None


def _owner_name() -> str:
    fields = _stat(os.getpid())
    return f"{os.getpid()}-{fields[19] if fields else '0'}"


class RunLimits:
    """One run's limits: its cgroups, made before it starts, or the watch over its processes.

    `mark` is the NAME=value every process of the run has in its environment (copy mode's
    watch finds by it those that left the tree). `join` are the files the child writes itself
    into its cgroups with before exec (run_child.py `limiter`); `nproc` is the RLIMIT_NPROC it
    sets where the count is only watched.
    """

    def __init__(
        self,
        limits: ProcessLimits,
        max_processes: int | None,
        cpu_seconds: int | None,
        mark: str,
        *,
        contained: bool,
    ) -> None:
        self.max_processes = max_processes
        self.cpu_seconds = cpu_seconds
        self._allowed = (
            None if max_processes is None else max_processes + (_SCAFFOLDING if contained else 0)
        )
        self._mark = None if contained else mark.encode()
        self._made: list[str] = []
        self._pids: str | None = None
        self._cpu: str | None = None
        v2 = any(found is not None and found.version == 2 for found in (limits.pids, limits.cpu))
        self._cpu_file = "cpu.stat" if v2 else "cpuacct.usage"
        name = f"{GROUP_PREFIX}{_owner_name()}-{uuid.uuid4().hex[:12]}"
        if max_processes is not None and limits.pids is not None:
            self._pids = self._make(limits.pids.base, name)
            if self._pids is not None and not _write(f"{self._pids}/pids.max", str(self._allowed)):
                self._pids = None
        if cpu_seconds is not None and limits.cpu is not None:
            self._cpu = self._make(limits.cpu.base, name)
        # v1: the child is one thread after fork, so moving that thread (`tasks`) moves it all,
        # and the kernel moves the current thread without its global lock, whose writer waits
        # for an RCU grace period (cgroup.procs cost 13 ms a run here, `tasks` nothing).
        joined_by = "cgroup.procs" if v2 else "tasks"
        self.join = tuple(f"{group}/{joined_by}" for group in self._made)
        self.nproc = None
        if self._pids is None and max_processes is not None and os.getuid() != 0:
            self.nproc = _user_tasks() + max_processes + _SCAFFOLDING
        self._watch: _Watch | None = None

    def _make(self, base: str, name: str) -> str | None:
        folder = os.path.join(base, name)
        if folder in self._made:  # v2: one cgroup counts and times
            return folder
        try:
            os.mkdir(folder)
        except OSError:
            return None
        self._made.append(folder)
        return folder

    @classmethod
    def for_run(
        cls, max_processes: int | None, cpu_seconds: int | None, mark: str, *, contained: bool
    ) -> RunLimits:
        """The limits of a run about to start, by what this machine has."""
        limits = process_limits_in_force()
        return cls(limits, max_processes, cpu_seconds, mark, contained=contained)

    def step(self, wait: float | None) -> float | None:
        """How long to wait for the run before looking at its limits again."""
        if self.max_processes is None and self.cpu_seconds is None:
            return wait
        return POLL_SECONDS if wait is None else min(wait, POLL_SECONDS)

    def started(self, pid: int) -> None:
        """The child is running: where it did not join its cgroups, it is watched instead."""
        joined = _read(f"/proc/{pid}/cgroup").split()
        for group in self._made:
            if not any(line.endswith(os.path.basename(group)) for line in joined):
                self._pids = None if self._pids == group else self._pids
                self._cpu = None if self._cpu == group else self._cpu
        watched_count = self._pids is None and self.max_processes is not None
        if watched_count or (self._cpu is None and self.cpu_seconds is not None):
            self._watch = _Watch(pid, self._mark)

    def exceeded(self) -> str | None:
        """ "processes" or "cpu" when the run is over that limit (call every POLL_SECONDS)."""
        tasks, cpu = self._watch.sample() if self._watch else (0, 0.0)
        if self._pids is not None:
            if self._refused_a_fork(self._pids):
                return "processes"
        elif self._allowed is not None and tasks > self._allowed:
            return "processes"
        if self._cpu is not None:
            cpu = _cgroup_cpu(self._cpu, self._cpu_file)
        # A margin past the limit: one process alone meets its own RLIMIT_CPU first (SIGXCPU,
        # the usual "used its N s of CPU time"); only several together are stopped here.
        if self.cpu_seconds is not None and cpu > self.cpu_seconds + _CPU_MARGIN:
            return "cpu"
        return None

    def _refused_a_fork(self, group: str) -> bool:
        """The kernel refused a fork at pids.max, or the run (as the cgroup's owner, it may
        write there) raised its own limit."""
        events = _read(f"{group}/pids.events").split()
        if "max" in events and events[events.index("max") + 1] != "0":
            return True
        return _read(f"{group}/pids.max").strip() != str(self._allowed)

    def kill(self) -> None:
        """SIGKILL every process in the run's cgroups (the caller kills its group and marks)."""
        for group in self._made:
            _kill_group(group)

    def close(self) -> None:
        """Kill what is left in the run's cgroups and remove them (a dead worker's: swept)."""
        for group in self._made:
            _kill_group(group)
            _remove(group)
        self._made.clear()
        self._pids = self._cpu = None


def _cgroup_cpu(group: str, file: str) -> float:
    text = _read(f"{group}/{file}").split()
    if file == "cpu.stat":
        return int(text[text.index("usage_usec") + 1]) / 1e6 if "usage_usec" in text else 0.0
    return int(text[0]) / 1e9 if text and text[0].isdigit() else 0.0


def _kill_group(group: str) -> None:
    if _write(f"{group}/cgroup.kill", "1"):  # v2, Linux 5.14+
        return
    for _ in range(100):  # each pass kills what the last one's victims forked meanwhile
        pids = [int(pid) for pid in _read(f"{group}/cgroup.procs").split() if pid.isdigit()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _remove(group: str) -> None:
    """rmdir once the killed processes have left (they do as they exit, within milliseconds)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            os.rmdir(group)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return  # swept by the next worker
            _kill_group(group)
            time.sleep(0.005)


def sweep_dead_groups(limits: ProcessLimits) -> list[str]:
    """Kill and remove runs' cgroups whose worker is gone; returns the folders removed."""
    removed = []
    for base in sorted({hierarchy.base for hierarchy in (limits.pids, limits.cpu) if hierarchy}):
        with contextlib.suppress(OSError):
            for entry in os.scandir(base):
                owner = entry.name.removeprefix(GROUP_PREFIX).split("-")[:2]
                if entry.name.startswith(GROUP_PREFIX) and len(owner) == 2 and not _alive(*owner):
                    _remove(entry.path)
                    removed.append(entry.path)
    return removed


def _alive(pid: str, started: str) -> bool:
    fields = _stat(pid) if pid.isdigit() else None
    return fields is not None and fields[19] == started


def _user_tasks() -> int:
    """Tasks of our user now: RLIMIT_NPROC counts them all, so the run's limit comes on top."""
    uid, total = os.getuid(), 0
    for entry in _pids():
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}").st_uid == uid:
                fields = _stat(entry)
                total += int(fields[17]) if fields else 1
    return total


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                yield int(entry)


class _Watch:
    """The run's processes found in /proc: below its first process, or (copy mode, where one
    can leave the tree) also any holding its mark; their tasks now and their CPU in all."""

    def __init__(self, root: int, mark: bytes | None) -> None:
        self._root = root
        self._mark = mark
        self._marked: dict[tuple[int, str], bool] = {}
        self._last: dict[int, tuple[int, float]] = {}  # pid: (parent, CPU with reaped children)
        self._gone = 0.0

    def sample(self) -> tuple[int, float]:
        found = self._tree() if self._mark is None else self._scan()
        tasks, cpu = 0, 0.0
        for pid, fields in found.items():
            tasks += int(fields[17])
            seconds = sum(int(fields[i]) for i in (11, 12, 13, 14)) / _CLOCK_TICKS
            cpu += seconds
            self._last[pid] = (int(fields[1]), seconds)
        for pid in [pid for pid in self._last if pid not in found]:
            parent, seconds = self._last.pop(pid)
            # A parent of the run that reaps it holds its time in its own children's time; one
            # reaped by a process outside (an orphan's init) took its time along.
            if parent not in found and parent not in self._last:
                self._gone += seconds
        return tasks, cpu + self._gone

    def _tree(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        pending = [self._root]
        while pending:
            pid = pending.pop()
            fields = _stat(pid)
            if pid in found or fields is None:
                continue
            found[pid] = fields
            with contextlib.suppress(OSError):
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                        pending.extend(int(child) for child in handle.read().split())
        return found

    def _scan(self) -> dict[int, list[str]]:
        every = {pid: fields for pid in _pids() if (fields := _stat(pid)) is not None}
        children: dict[int, list[int]] = {}
        for pid, fields in every.items():
            children.setdefault(int(fields[1]), []).append(pid)
        found: dict[int, list[str]] = {}
        pending = [pid for pid, fields in every.items() if self._is_marked(pid, fields[19])]
        pending.append(self._root)
        while pending:
            pid = pending.pop()
            if pid in every and pid not in found:
                found[pid] = every[pid]
                pending.extend(children.get(pid, ()))
        return found

    def _is_marked(self, pid: int, started: str) -> bool:
        key = (pid, started)
        if key not in self._marked:
            try:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    self._marked[key] = self._mark in handle.read().split(b"\0")
            except OSError:
                self._marked[key] = False
        return self._marked[key]
