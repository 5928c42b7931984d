"""A run's processes are counted and its CPU time is that of all of them together.

A program that forks fresh CPU-burning children never reaches the per-process RLIMIT_CPU, and a
fork bomb had no limit at all: both ran until the wall clock. Each test runs with namespaces and
with the copy fallback, and with whatever this machine enforces the limits with (cgroups where
ours are writable) and again with the watch of /proc forced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from code_evolver.pipeline.checker import Check
from code_evolver.pipeline.runner import RunResult, run_and_capture
from code_evolver.sandbox import FORCE_VARIABLE, Sandbox, isolation_in_force
from code_evolver.sandbox.process_limits import (
    FORCE_WATCH_VARIABLE,
    GROUP_PREFIX,
    describe_process_limits,
    process_limits_in_force,
    sweep_dead_groups,
)
from sandbox_kit import MODES, kill_marked, marked, new_mark, use_mode

WriteConfig = Callable[..., Path]
ENFORCERS = ("probed", "watch")

# Each child burns one second of its own CPU (under the per-process limit of 2 s); eight of
# them, one after another, are 8 s of CPU in all.
BURNERS = """\
import os, sys, time
for n in range(8):
    if os.fork() == 0:
        start = time.process_time()
        while time.process_time() - start < 1.0:
            pass
        os._exit(0)
    os.wait()
    print("child", n, "done", flush=True)
print("all done", flush=True)
"""

# Bounded: every process forks three children down to depth 5, at most 364 processes even
# with no limit at all, each living three seconds.
BOMB = """\
import os, sys, time
def grow(depth):
    for _ in range(3):
        if depth and os.fork() == 0:
            grow(depth - 1)
            time.sleep(3)
            os._exit(0)
grow(5)
time.sleep(3)
print("all grown", flush=True)
"""


@pytest.fixture(params=[(mode, how) for mode in MODES for how in ENFORCERS])
def limits_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    mode, how = request.param
    use_mode(mode, monkeypatch)
    if how == "watch":
        monkeypatch.setenv(FORCE_WATCH_VARIABLE, "watch")
    else:
        monkeypatch.delenv(FORCE_WATCH_VARIABLE, raising=False)
    return f"{mode}, {how}"


def _run(root: Path, program: str, mark: str, **limits: int) -> RunResult:
    sandbox = Sandbox(str(root), isolation_in_force(), network=False)
    try:
        with sandbox.place({"prog.py": program}) as place:
            return run_and_capture(
                [sys.executable, place.path("prog.py"), mark],
                cwd=place.root,
                timeout=120,
                namespace=place.namespace,
                patient=True,
                **limits,
            )
    finally:
        sandbox.close()


def _left_behind(mark: str) -> list[int]:
    deadline = time.monotonic() + 3
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return marked(mark)


def test_children_burning_cpu_are_stopped_at_the_runs_cpu_time_in_all(
    tmp_path: Path, limits_mode: str
) -> None:
    mark = new_mark()
    try:
        result = _run(tmp_path, BURNERS, mark, cpu_limit_s=2)
    finally:
        kill_marked(mark)
    assert result.over_limit == "cpu", (limits_mode, result)
    assert "its processes used 2 s of CPU time in all" in result.describe()
    # Stopped about at 2 s of CPU: two children done, perhaps a third, never all eight.
    assert result.stdout.count("done") <= 3 and "all done" not in result.stdout, result.stdout
    assert result.exit_code is None and not result.ok and result.hit_limit
    summary = Check(None, result, None, None).summary
    assert summary.endswith(
        "its processes used 2 s of CPU time in all (the CPU-time limit over all of its "
        "processes, fix.run_timeout)"
    ), summary
    assert _left_behind(mark) == []


def test_a_fork_bomb_is_stopped_at_the_count_and_leaves_nothing_behind(
    tmp_path: Path, limits_mode: str
) -> None:
    mark = new_mark()
    try:
        result = _run(tmp_path, BOMB, mark, max_processes=20)
        left = _left_behind(mark)
    finally:
        kill_marked(mark)
    assert result.over_limit == "processes", (limits_mode, result)
    assert "was stopped: it started more than 20 processes" in result.describe()
    assert "all grown" not in result.stdout and result.duration < 30
    assert left == []
    summary = Check(None, result, None, None).summary
    assert summary.endswith(
        "it started more than 20 processes (fix.max_processes, threads included)"
    ), summary


def test_a_program_within_the_limits_is_not_stopped(tmp_path: Path, limits_mode: str) -> None:
    program = (
        "import os\nfor _ in range(5):\n    if os.fork() == 0:\n        os._exit(0)\n"
        "    os.wait()\nprint('fine')\n"
    )
    result = _run(tmp_path, program, new_mark(), max_processes=8, cpu_limit_s=5)
    assert result.ok and result.stdout == "fine\n" and result.over_limit is None, result


def test_status_says_which_limits_are_in_force_and_how(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config({"fix": {"max_processes": 64, "run_timeout": 4}})
    lines = {}
    for how in ENFORCERS:
        env = {**os.environ, FORCE_VARIABLE: "copy"}
        env.pop(FORCE_WATCH_VARIABLE, None)
        if how == "watch":
            env[FORCE_WATCH_VARIABLE] = "watch"
        done = subprocess.run(
            [sys.executable, "-m", "code_evolver", "status", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
            timeout=60,
        )
        lines[how] = [line for line in done.stdout.splitlines() if line.startswith("processes:")]
    monkeypatch.delenv(FORCE_WATCH_VARIABLE, raising=False)
    probed = describe_process_limits(process_limits_in_force(), 64, 4)
    assert lines["probed"] == [probed]
    watched = "watched every 50 ms" + (", and RLIMIT_NPROC" if os.getuid() != 0 else "")
    assert lines["watch"] == [
        f"processes: at most 64 ({watched}); CPU: 4 s over all processes (watched every 50 ms)"
    ]
    limits = process_limits_in_force()
    if limits.pids is not None and limits.cpu is not None:  # this machine's cgroups, named
        version = limits.pids.version
        cpu = "cpu" if version == 2 else "cpuacct"
        assert probed == (
            f"processes: at most 64 (cgroup v{version} pids); "
            f"CPU: 4 s over all processes (cgroup v{version} {cpu})"
        )


def test_a_max_processes_below_eight_is_refused_with_the_key(write_config: WriteConfig) -> None:
    from code_evolver import ConfigManager
    from code_evolver.config import ConfigError

    with pytest.raises(ConfigError, match=r"fix\.max_processes.*from 8 to 100000, got 2"):
        ConfigManager(write_config({"fix": {"max_processes": 2}})).settings  # noqa: B018
    assert ConfigManager(write_config({})).settings.fix.max_processes == 256


def test_cgroups_of_a_dead_worker_are_swept_with_their_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FORCE_WATCH_VARIABLE, raising=False)
    limits = process_limits_in_force()
    if limits.pids is None:
        pytest.skip("no cgroup of ours is writable here: runs are watched instead")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = Path(limits.pids.base, f"{GROUP_PREFIX}{gone.stdout.strip()}-1-abc")
    alive = Path(limits.pids.base, f"{GROUP_PREFIX}{os.getpid()}-{_start_time()}-abc")
    mark = new_mark()
    dead.mkdir()
    alive.mkdir()
    try:
        procs = str(dead / "cgroup.procs")
        left = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)", mark],
            preexec_fn=lambda: Path(procs).write_text("0"),
        )
        assert sweep_dead_groups(limits) == [str(dead)]
        assert left.wait(timeout=10) == -9 and not dead.exists() and alive.exists()
    finally:
        kill_marked(mark)
        for folder in (dead, alive):
            if folder.exists():
                folder.rmdir()


def _start_time() -> str:
    return Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]


# Where the run may write its own cgroup's files (it runs as their owner), raising its limit
# is itself over the limit.
RAISES_ITS_LIMIT = """\
import os, time
path = next(line.split(":", 2)[2] for line in open("/proc/self/cgroup").read().splitlines()
            if "pids" in line.split(":")[1].split(","))
try:
    with open("/sys/fs/cgroup/pids" + path + "/pids.max", "w") as handle:
        handle.write("max")
except OSError as error:
    print("refused", error, flush=True)
time.sleep(1)
print("raised", flush=True)
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_run_that_raises_its_own_process_limit_is_stopped(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mode(mode, monkeypatch)
    monkeypatch.delenv(FORCE_WATCH_VARIABLE, raising=False)
    limits = process_limits_in_force()
    if limits.pids is None or limits.pids.version != 1:
        pytest.skip("no cgroup v1 pids hierarchy of ours here")
    result = _run(tmp_path, RAISES_ITS_LIMIT, new_mark(), max_processes=20)
    if "refused" in result.stdout:
        pytest.skip(f"this run cannot write its cgroup: {result.stdout.strip()}")
    assert result.over_limit == "processes" and "raised" not in result.stdout, result
