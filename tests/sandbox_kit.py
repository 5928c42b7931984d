"""Helpers for the isolation tests: both isolation modes, and processes found by a mark.

A process inside a run's PID namespace knows only its namespace's pid, so tests find the
processes a run left by a mark on their command line instead of by pid.
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from code_evolver.sandbox import FORCE_VARIABLE, isolation_in_force

MODES = ("namespaces", "copy")
# Set by .ci/run: CI's machines have user namespaces, so a sandbox that stops working there is a
# failure, not a skip (a broken probe once turned every namespace test into a skip).
REQUIRE_VARIABLE = "CODE_EVOLVER_REQUIRE_NAMESPACES"


def use_mode(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force `mode` for runs started by this process and its children (the worker)."""
    if mode == "copy":
        monkeypatch.setenv(FORCE_VARIABLE, "copy")
        return
    monkeypatch.delenv(FORCE_VARIABLE, raising=False)
    found = isolation_in_force()
    if not found.namespaces:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1, but no namespaces: {found.reason}")
        pytest.skip(f"no namespaces here: {found.reason}")


def write_project(root: Path, files: dict[str, str]) -> Path:
    """`files` (relative path -> text, dedented) written under `root`; returns `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def new_mark() -> str:
    return f"ce-mark-{uuid.uuid4().hex}"


def marked(mark: str) -> list[int]:
    """Host pids of live processes whose command line holds `mark`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if mark.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def sleeper(mark: str, seconds: int = 60) -> str:
    """Python source that replaces the current process by a marked sleeping interpreter with
    an empty environment."""
    code = f"import time; time.sleep({seconds})"
    return f"os.execve({sys.executable!r}, [{sys.executable!r}, '-c', {code!r}, {mark!r}], {{}})"


def kill_marked(mark: str) -> None:
    for pid in marked(mark):
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
