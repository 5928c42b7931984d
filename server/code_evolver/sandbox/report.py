"""What `status`, `doctor` and the editor's status item say about runs: isolation and python."""

from __future__ import annotations

import os

from ..config import Settings
from .interpreter import project_python
from .isolation import describe_isolation, isolation_in_force

__all__ = ["run_report"]


def run_report(settings: Settings, workspace_root: str | None = None) -> list[str]:
    """Two lines: which isolation runs get and why, and which interpreter `{python}` is."""
    root = workspace_root or os.getcwd()
    isolation = isolation_in_force(settings.fix.isolation)
    python = project_python(root, settings.python)
    chosen = f"python: {python.path} ({python.source})"
    if python.problem:
        chosen = f"python: {python.problem}"
    return [f"isolation: {describe_isolation(isolation, network=settings.fix.network)}", chosen]
