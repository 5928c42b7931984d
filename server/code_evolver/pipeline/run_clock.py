"""The wall clock of a run that does not count time spent waiting for a busy CPU.

User code runs at the lowest priority, so on a loaded machine a run can wait most of its life
for a CPU. That waiting is bounded by the CPU-time limit (RLIMIT_CPU), not by this clock; this
clock catches a run that sleeps or blocks for too long (a deadlock, an input() or a socket that
never answers). A second is "waiting for the CPU" when a thread of the run is runnable (state R
in /proc). Without /proc it is the plain wall clock.
"""

from __future__ import annotations

import os
import time

__all__ = ["RunClock"]

# However busy the machine, a run never lives longer than this many times its ceiling.
_BACKSTOP_FACTOR = 10.0


class RunClock:
    """Idle time of the process tree under `pid`, against a ceiling of `limit` seconds."""

    def __init__(self, pid: int, limit: float | None) -> None:
        self.pid = pid
        self.limit = limit
        self._proc = os.path.isdir(f"/proc/{pid}/task")
        self._started = self._last = time.monotonic()
        self.idle = 0.0

    def expired(self) -> bool:
        """Call every fraction of a second: counts the time since the last call, then says
        whether the run is over its ceiling."""
        if self.limit is None:
            return False
        now = time.monotonic()
        step, self._last = now - self._last, now
        if not (self._proc and self._runnable()):
            self.idle += step
        return self.idle >= self.limit or now - self._started >= self.limit * _BACKSTOP_FACTOR

    def wait_step(self) -> float | None:
        """How long to wait for the process before the next call to expired()."""
        if self.limit is None:
            return None
        return max(0.0, min(0.25, self.limit - self.idle))

    def _runnable(self) -> bool:
        pending, seen = [self.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                base = f"/proc/{pid}/task/{task}"
                try:
                    with open(f"{base}/stat", "rb") as handle:
                        if handle.read().rsplit(b")", 1)[-1].split()[:1] == [b"R"]:
                            return True
                    with open(f"{base}/children", "rb") as handle:
                        pending.extend(int(child) for child in handle.read().split())
                except (OSError, ValueError):
                    continue
        return False
