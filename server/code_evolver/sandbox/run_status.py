"""How a namespaced run ended, read from what its first process (isolation.py `_FIRST`) left.

No side channel: the exit code is the kernel's (through `unshare`), and a sandbox that could not
be set up says so in one marked line on stderr, before the program ever started, with exit
code 125. A program cannot fake its own exit code this way, only its own "not started".
"""

from __future__ import annotations

__all__ = ["MARK", "SETUP_EXIT", "SETUP_FAILED", "program_exit_code", "setup_problem"]

# How a run's stderr begins when its namespaces or overlay could not be made (not started).
SETUP_FAILED = "the sandbox for the run could not be set up"
MARK = "code-evolver-sandbox: "
SETUP_EXIT = 125
# A shell reports a child killed by signal N as exit code 128+N; N goes up to SIGRTMAX (64).
_SIGNALLED = range(129, 193)


def setup_problem(exit_code: int, stderr: str) -> str | None:
    """Why the run's namespaces could not be set up, with what the failing command printed."""
    if exit_code != SETUP_EXIT or MARK not in stderr:
        return None
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = next(line for line in lines if line.startswith(MARK)).removeprefix(MARK)
    printed = [line for line in lines if not line.startswith(MARK)]
    detail = f": {printed[0]}" if printed else ""  # mount adds a line on dmesg after its own
    return f"{SETUP_FAILED} ({said}{detail})"


def program_exit_code(exit_code: int) -> int:
    """The program's own ending: its exit code, or minus the signal that killed it.

    Its first process is a shell, which says 128+N for a child killed by signal N; a program
    that exits with such a code on its own is reported as killed, as a shell would say too.
    """
    return -(exit_code - 128) if exit_code in _SIGNALLED else exit_code
