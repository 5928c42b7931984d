"""Copying a project's files for the fallback: every file a run may read, none it may damage.

No hard links: a link shares the user's inode, so a run writing a file in place (open(p, "w"),
chmod, truncate) would change the user's file, and nothing tells ahead which files a run will
open for writing. Each file is a copy-on-write clone where the file system can (FICLONE on
btrfs, XFS, bcachefs; copy_file_range reflinks too on recent kernels), else a plain copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys

__all__ = ["MAX_FILES", "SKIP_DIRS", "ProjectTooLarge", "clone_or_copy", "link_target"]

# Folders a run does not need to see in the copy: version control, environments (the project's
# interpreter is used from its real place), caches and build output.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "__pypackages__",
    }
)
MAX_FILES = 20_000
_FICLONE = 0x40049409  # Linux ioctl: share the extents of another file, copy on write
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SMALL = 1 << 20
# Per file system (device): whether clones may work there; False after the first refusal.
_CLONES: dict[int, list[bool]] = {}


class ProjectTooLarge(Exception):
    """The project has more files than a per-run copy can afford."""


def clone_or_copy(source: str, target: str) -> None:
    """`target` (which must not exist) becomes a clone of `source` where the file system can,
    else a copy; its permission bits follow."""
    device = os.stat(os.path.dirname(target) or ".").st_dev
    clones = _CLONES.setdefault(device, [sys.platform.startswith("linux")])
    _clone_or_copy(source, target, clones)


def link_target(pointed: str, root: str, dest: str) -> str:
    """Where a copied symlink points: a link into the project points into the copy instead."""
    if os.path.isabs(pointed):
        resolved = os.path.realpath(pointed)
        if resolved == root or resolved.startswith(root + os.sep):
            return os.path.join(dest, os.path.relpath(resolved, root))
    return pointed


def _clone_or_copy(source: str, target: str, clones: list[bool]) -> None:
    if clones[0]:
        if _try_clone(source, target):
            return
        clones[0] = False
    # Plain system calls instead of shutil.copyfile + copymode: a project is mostly small files,
    # and for them the Python-level overhead per file is most of the cost.
    src = os.open(source, os.O_RDONLY | _CLOEXEC)
    try:
        info = os.fstat(src)
        if info.st_size > _SMALL:
            shutil.copyfile(source, target)
            with contextlib.suppress(OSError):
                os.chmod(target, info.st_mode & 0o7777)
            return
        data = os.read(src, _SMALL + 1)
    finally:
        os.close(src)
    dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, info.st_mode & 0o777)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view) :]
    finally:
        os.close(dst)


def _try_clone(source: str, target: str) -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        mode = os.fstat(src).st_mode & 0o7777
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            fcntl.ioctl(dst, _FICLONE, src)
            return True
        except OSError:
            os.close(dst)
            dst = -1
            os.unlink(target)
            return False
        finally:
            if dst >= 0:
                os.close(dst)
    finally:
        os.close(src)
