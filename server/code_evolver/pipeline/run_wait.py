"""Waiting for a run's end, its time, a limit of all its processes or a cancel; then killing
whatever it left behind."""

from __future__ import annotations

import subprocess
import threading
import time

from ..cancel import CancelToken
from ..sandbox.process_limits import RunLimits
from .run_child import kill_group, kill_marked
from .run_clock import RunClock
from .run_io import ExitWatch

__all__ = ["wait_and_kill"]


def wait_and_kill(
    process: subprocess.Popen[bytes],
    limits: RunLimits,
    wait_for: float | None,
    *,
    patient: bool,
    cancel: CancelToken | None,
    mark: str | None,
) -> tuple[bool, bool, str | None]:
    """Wait for the run's end, for `wait_for` seconds at most (of its idle time when `patient`,
    run_clock.py), then kill what is left: its process group, its cgroups, and (`mark`, copy
    mode) every process carrying its mark.

    Returns (timed out, cancelled, the limit it went over: RunResult.over_limit)."""
    stop_lock = threading.Lock()
    reaped = False
    cancelled = False

    def on_cancel() -> None:
        nonlocal cancelled
        with stop_lock:
            if not reaped:
                cancelled = True
                kill_group(process)

    remove_callback = cancel.add_callback(on_cancel) if cancel is not None else None
    timed_out = False
    over_limit: str | None = None
    try:
        over_limit = _wait(process, limits, wait_for, patient)
        if over_limit is not None and process.returncode is None:
            with stop_lock:
                kill_group(process)
                limits.kill()
            process.wait()
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
        if mark is not None:
            kill_marked(mark)
        limits.kill()
    return timed_out, cancelled, None if cancelled else over_limit


def _wait(
    process: subprocess.Popen[bytes], limits: RunLimits, wait_for: float | None, patient: bool
) -> str | None:
    """Wait for the process; TimeoutExpired when its time is up. Returns the limit all of its
    processes together went over (RunResult.over_limit), looked at every POLL_SECONDS."""
    clock = RunClock(process.pid, wait_for) if patient else None
    deadline = None if wait_for is None else time.monotonic() + wait_for
    with ExitWatch(process) as watch:
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                watch.wait(limits.step(clock.wait_step() if clock is not None else left))
                return limits.exceeded()  # also a fork refused at the count just before the end
            except subprocess.TimeoutExpired:
                over = limits.exceeded()
                if over is not None:
                    return over
                if clock.expired() if clock is not None else left is not None and left <= 0.0:
                    raise
