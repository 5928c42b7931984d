"""The workspace's Python sources, for the related-function search of Generate."""

from __future__ import annotations

import os
from collections.abc import Mapping

MAX_WORKSPACE_FILES = 300
MAX_FILE_BYTES = 256 * 1024
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".tox",
        "build",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
    }
)


def workspace_sources(root: str, open_docs: Mapping[str, str]) -> dict[str, str]:
    """Python sources of the workspace for the related-function search (open files win)."""
    sources: dict[str, str] = {}
    count = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            count += 1
            if count > MAX_WORKSPACE_FILES:
                break
            try:
                if os.path.getsize(path) > MAX_FILE_BYTES:
                    continue
                with open(path, encoding="utf-8") as handle:
                    sources[path] = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
    sources.update(open_docs)
    return sources
