"""Copying a project's files for the fallback: every file a run may read, none it may damage.

What is left out: version control, caches, environments and build output (`skipped_folder`).
A link within the project stays a link within the copy; what a link out of it points at is
copied as content (copy_pool.py), so that no path in the copy leads to the user's files.

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

__all__ = [
    "MAX_FILES",
    "ProjectTooLarge",
    "clone_or_copy",
    "is_environment",
    "link_in_copy",
    "skipped_folder",
]

# Folders a run never needs in the copy, wherever they are: version control, caches, and
# environments known by their name (the project's interpreter is used from its real place).
_ALWAYS_SKIPPED = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        "node_modules",
        "__pypackages__",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
    }
)
# Build output only beside what builds it, and only when it is not a package of its own: an
# `app/build/` package or a `docs/build/` a program reads is in the copy.
_BUILD_OUTPUT = frozenset({"build", "dist"})
_BUILDS = ("pyproject.toml", "setup.py", "setup.cfg", "package.json")
# What makes a folder of any name an environment: a virtual environment, a conda one.
_ENVIRONMENT_MARKS = ("pyvenv.cfg", "conda-meta")
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


def skipped_folder(name: str, path: str, siblings: frozenset[str]) -> bool:
    """Whether the copy leaves out the folder `name` at `path`, whose parent holds `siblings`."""
    if name in _ALWAYS_SKIPPED or name.endswith(".egg-info"):
        return True
    return (
        name in _BUILD_OUTPUT
        and not siblings.isdisjoint(_BUILDS)
        and not os.path.exists(os.path.join(path, "__init__.py"))
    )


def is_environment(names: frozenset[str]) -> bool:
    """Whether a folder holding `names` is an environment (left out of the copy)."""
    return not names.isdisjoint(_ENVIRONMENT_MARKS)


def link_in_copy(pointed: str, link: str, target: str, *, as_written: bool) -> str:
    """What a link at `link` (relative to the project) says in the copy, when it resolves to
    `target` inside the project: its own text where that lands on the same file, else the way
    there from its folder; never a path out of the copy."""
    folder = os.path.dirname(link)
    lands = os.path.normpath(os.path.join(folder, pointed)) == os.path.normpath(target)
    if as_written and not os.path.isabs(pointed) and lands:
        return pointed
    return os.path.relpath(target, folder or os.curdir)


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
