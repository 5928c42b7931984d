"""The fallback's scratch copy of a project: every file a run may read, none it may damage.

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

__all__ = ["SKIP_DIRS", "ProjectTooLarge", "copy_project"]

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


class ProjectTooLarge(Exception):
    """The project has more files than a per-run copy can afford."""


def copy_project(source: str, dest: str, *, max_files: int = MAX_FILES) -> int:
    """Copy `source` into the existing folder `dest`; returns the number of files copied."""
    root = os.path.realpath(source)
    count = 0
    # The first file tells whether this file system clones; no second try when it does not.
    clones = [sys.platform.startswith("linux")]
    pending = [(root, dest)]
    while pending:
        here, there = pending.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue  # unreadable for the user too
        for entry in entries:
            target = os.path.join(there, entry.name)
            try:
                if entry.is_symlink():
                    _copy_link(entry.path, target, root, dest)
                elif entry.is_dir():
                    if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info"):
                        continue
                    os.mkdir(target)
                    pending.append((entry.path, target))
                elif entry.is_file():
                    count += 1
                    if count > max_files:
                        raise ProjectTooLarge(
                            f"{source} has more than {max_files} files to copy for each run"
                        )
                    _clone_or_copy(entry.path, target, clones)
            except OSError:
                continue  # a file that vanished or cannot be read is missing for the run too
    return count


def _copy_link(link: str, target: str, root: str, dest: str) -> None:
    """Keep a symlink, but one pointing into the project points into the copy instead."""
    pointed = os.readlink(link)
    if os.path.isabs(pointed):
        resolved = os.path.realpath(pointed)
        if resolved == root or resolved.startswith(root + os.sep):
            pointed = os.path.join(dest, os.path.relpath(resolved, root))
    os.symlink(pointed, target)


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
