"""The in-run end of the private report channel (the runner's `report=True`, pipeline/runner.py).

Standalone: imports nothing of code_evolver and runs on Python 3.8 and later, because it runs
inside the project's own interpreter.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # no import of `typing` at run time: the project's folders may shadow it
    from collections.abc import Callable

_VARIABLE = "CODE_EVOLVER_REPORT"


def open_channel() -> Callable[[str], None] | None:
    """Take the channel out of the environment before any user code runs; None without one.

    The nonce lives only in the returned function's closure: neither the environment, a
    module global nor an inheritable descriptor carries it to the code being judged.
    """
    value = os.environ.pop(_VARIABLE, None)
    if not value:
        return None
    write_text, _, nonce_text = value.partition(":")
    write_fd, nonce_fd = int(write_text), int(nonce_text)
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(nonce_fd, 64)
        if not chunk:
            break
        line += chunk
    os.close(nonce_fd)
    os.set_inheritable(write_fd, False)
    prefix = line.strip().decode("ascii") + " "
    owner = os.getpid()

    def report(payload: str) -> None:
        if os.getpid() != owner:
            return  # a fork of the program reached its end, not the program
        try:  # noqa: SIM105 (contextlib is not imported: the project's folders may shadow it)
            os.write(write_fd, (prefix + payload + "\n").encode("utf-8", "backslashreplace"))
        except OSError:
            pass  # the program closed the descriptor: no report, which the checker reads as one

    return report
