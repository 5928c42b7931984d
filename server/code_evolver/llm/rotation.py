"""Each role's place in its rotation, kept across one-shot CLI runs in the user cache directory.

`code-evolver generate` and `fix` start a fresh process each time; without this every run would
start on the first endpoint, and a script calling the CLI in a loop would load only that one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import OllamaClient

FILE_NAME = "rotation.json"


def state_path() -> Path:
    """`rotation.json` in the user cache directory (XDG_CACHE_HOME respected)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "code-evolver" / "Cache" / FILE_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "code-evolver" / FILE_NAME
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "code-evolver" / FILE_NAME


def restore(client: OllamaClient, path: Path | None = None) -> None:
    """Continue each role's rotation where the last run left it (same endpoint list only)."""
    try:
        data = json.loads((path or state_path()).read_text("utf-8"))
    except (OSError, ValueError):
        return  # first run, or an unreadable file: start at the first endpoint
    if not isinstance(data, dict):
        return
    for pool in client.pools():
        entry = data.get(pool.role)
        if isinstance(entry, dict) and entry.get("endpoints") == [e.url for e in pool.endpoints]:
            pool.restore_rotation(entry)


def save(client: OllamaClient, path: Path | None = None) -> None:
    """Write every role's rotation; a cache that cannot be written never fails the command."""
    target = path or state_path()
    data: dict[str, Any] = {
        pool.role: {"endpoints": [e.url for e in pool.endpoints], **pool.rotation()}
        for pool in client.pools()
        if len(pool.endpoints) > 1
    }
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed over, so a run reading it never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".rotation-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
