"""What `status`, `doctor` and the editor's status item say about runs: isolation and python."""

from __future__ import annotations

import math
import os

from ..config import Settings
from .interpreter import project_python
from .isolation import describe_isolation, isolation_in_force
from .process_limits import describe_process_limits, process_limits_in_force

__all__ = ["run_report"]


def run_report(settings: Settings, workspace_root: str | None = None) -> list[str]:
    """Three lines: which isolation runs get and why, which interpreter `{python}` is, and the
    limits over all of a run's processes (how many, and their CPU time: fix.run_timeout)."""
    root = workspace_root or os.getcwd()
    isolation = isolation_in_force(settings.fix.isolation)
    python = project_python(root, settings.python)
    chosen = f"python: {python.path} ({python.source})"
    if python.problem:
        chosen = f"python: {python.problem}"
    fix = settings.fix
    cpu = None if math.isinf(fix.run_timeout) else max(1, math.ceil(fix.run_timeout))
    limits = describe_process_limits(process_limits_in_force(), fix.max_processes, cpu)
    return [f"isolation: {describe_isolation(isolation, network=fix.network)}", chosen, limits]
