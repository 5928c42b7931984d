"""The fallback's copies of a project, kept between runs and brought back in line before each.

Copying a 2,000-file project for every run took 1.5 s on a file system without clones
(bench/isolation.py). A copy that a run is done with is kept instead; before the next run it is
compared, file by file, with the project and with what it was when it was made, and only what
differs is copied again or removed: a file the user saved since, one the run wrote, renamed or
deleted, one it created. A file's record is its inode, size, mode, mtime and ctime; a run cannot
set a ctime back, so whatever it did to a file shows. A copy that cannot be read back (a run
made a folder unreadable, say) is thrown away and made anew.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, field

from .project_copy import (
    MAX_FILES,
    ProjectTooLarge,
    clone_or_copy,
    is_environment,
    link_in_copy,
    skipped_folder,
)
from .sweep import remove_tree

__all__ = ["CopyPool", "WarmCopy"]

_Signature = tuple[int, int, int, int, int]


def _signature(info: os.stat_result) -> _Signature:
    return (info.st_ino, info.st_size, info.st_mode, info.st_mtime_ns, info.st_ctime_ns)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class _Tree:
    """One walk of a folder: its folders, files (with their signature) and links."""

    folders: dict[str, int] = field(default_factory=dict)  # permission bits
    files: dict[str, _Signature] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)
    # a file reached through a link out of the project -> the file it is copied from
    outside: dict[str, str] = field(default_factory=dict)


class _ProjectWalk:
    """The project as a run gets it, by relative path: the heavy folders left out, a link
    within the project kept as a link, what a link out of it points at taken as content."""

    def __init__(self, root: str, max_files: int | None) -> None:
        self.root = root  # a real path: links are resolved against it
        self.max_files = max_files
        self.tree = _Tree()
        # (relative path, the folder on disk, the folders out of the project it is inside)
        self._pending: list[tuple[str, str, tuple[str, ...]]] = [("", root, ())]

    def walk(self) -> _Tree:
        while self._pending:
            relative, folder, outside = self._pending.pop()
            with os.scandir(folder) as listing:
                entries = list(listing)
            names = frozenset(entry.name for entry in entries)
            if relative and is_environment(names):
                del self.tree.folders[relative]
                continue
            for entry in entries:
                path = os.path.join(relative, entry.name)
                if entry.is_symlink():
                    self._link(entry, path, names, outside)
                elif entry.is_dir(follow_symlinks=False):
                    if not skipped_folder(entry.name, entry.path, names):
                        info = entry.stat(follow_symlinks=False)
                        self._folder(path, entry.path, info, outside)
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    self._file(path, entry.path, info, outside=bool(outside))
                # sockets, pipes and devices are no project file a run reads
        return self.tree

    def _folder(
        self, path: str, source: str, info: os.stat_result, outside: tuple[str, ...]
    ) -> None:
        self.tree.folders[path] = info.st_mode & 0o7777
        self._pending.append((path, source, outside))

    def _file(self, path: str, source: str, info: os.stat_result, *, outside: bool) -> None:
        self.tree.files[path] = _signature(info)
        if outside:
            self.tree.outside[path] = source
        if self.max_files is not None and len(self.tree.files) > self.max_files:
            counted = ", counting what its links out of it point at" if self.tree.outside else ""
            raise ProjectTooLarge(
                f"{self.root} has more than {self.max_files} files to copy for each run{counted}"
            )

    def _link(
        self, entry: os.DirEntry[str], path: str, siblings: frozenset[str], outside: tuple[str, ...]
    ) -> None:
        resolved = os.path.realpath(entry.path)
        if _within(resolved, self.root):
            target = os.path.relpath(resolved, self.root)
            pointed = os.readlink(entry.path)
            self.tree.links[path] = link_in_copy(pointed, path, target, as_written=not outside)
            return
        try:
            info = os.stat(resolved)
        except OSError:
            return  # dangling: a run writing it would create a file out of the project
        if stat.S_ISREG(info.st_mode):
            self._file(path, resolved, info, outside=True)
        elif (
            stat.S_ISDIR(info.st_mode)
            and not skipped_folder(entry.name, resolved, siblings)
            # a folder holding the project or one being copied would hold itself
            and not any(_within(seen, resolved) for seen in (self.root, *outside))
        ):
            self._folder(path, resolved, info, (*outside, resolved))


def _walk_copy(root: str) -> _Tree:
    """Every entry of a copy as it is, walked whole: a `.venv` a run created is found too."""
    tree = _Tree()
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(root, relative)) as entries:
            for entry in entries:
                path = os.path.join(relative, entry.name)
                if entry.is_symlink():
                    tree.links[path] = os.readlink(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    tree.folders[path] = entry.stat(follow_symlinks=False).st_mode & 0o7777
                    pending.append(path)
                elif entry.is_file(follow_symlinks=False):
                    tree.files[path] = _signature(entry.stat(follow_symlinks=False))
                else:
                    tree.others.add(path)
    return tree


class WarmCopy:
    """One copy of the project and the record of what each of its files was copied from."""

    def __init__(self, source: str, root: str) -> None:
        self.source = source
        self.root = root
        # relative path -> (the project file's signature, the copy's signature) when copied
        self._copied: dict[str, tuple[_Signature, _Signature]] = {}

    def sync(self, *, max_files: int = MAX_FILES) -> int:
        """Make the copy equal to the project again; returns the number of files copied."""
        wanted = _ProjectWalk(self.source, max_files).walk()
        os.makedirs(self.root, exist_ok=True)
        found = _walk_copy(self.root)
        self._remove_extra(wanted, found)
        for folder, mode in sorted(wanted.folders.items()):
            full, want = os.path.join(self.root, folder), mode | 0o700  # the run may enter it
            if folder not in found.folders:
                os.mkdir(full)
            if found.folders.get(folder) != want:
                os.chmod(full, want)
        copied = 0
        for path, source_signature in wanted.files.items():
            record = self._copied.get(path)
            current = found.files.get(path)
            if record is not None and record == (source_signature, current):
                continue
            source = wanted.outside.get(path) or os.path.join(self.source, path)
            if self._copy_file(path, source, source_signature, exists=current is not None):
                copied += 1
        for path, pointed in wanted.links.items():
            if found.links.get(path) != pointed:
                self._replace_link(path, pointed)
        for path in set(self._copied) - set(wanted.files):
            del self._copied[path]
        return copied

    def _remove_extra(self, wanted: _Tree, found: _Tree) -> None:
        """What the run made that the project does not have, or made of another kind."""
        for path in found.folders.keys() - wanted.folders.keys():
            # a folder inside an extra folder went with it
            if os.path.lexists(full := os.path.join(self.root, path)):
                remove_tree(full)
        extra = (found.files.keys() - wanted.files.keys()) | (found.links.keys() - wanted.links)
        for path in extra | found.others:
            full = os.path.join(self.root, path)
            if os.path.lexists(full):
                os.unlink(full)
            self._copied.pop(path, None)

    def _copy_file(
        self, path: str, source: str, source_signature: _Signature, *, exists: bool
    ) -> bool:
        target = os.path.join(self.root, path)
        if exists:
            os.unlink(target)
        try:
            clone_or_copy(source, target)
        except OSError:
            self._copied.pop(path, None)
            return False  # vanished or unreadable: missing for the run too, as in the project
        self._copied[path] = (source_signature, _signature(os.lstat(target)))
        return True

    def _replace_link(self, path: str, target: str) -> None:
        full = os.path.join(self.root, path)
        if os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)


class CopyPool:
    """The copies of one project, each used by one run at a time."""

    def __init__(self, source: str, scratch: str) -> None:
        self._source = os.path.realpath(source)
        self._scratch = scratch
        self._lock = threading.Lock()
        self._free: list[WarmCopy] = []
        self._made = 0

    def take(self) -> WarmCopy:
        """A copy equal to the project as it is now: a kept one if any is free, else a new one."""
        with self._lock:
            kept = self._free.pop() if self._free else None
            if kept is None:
                self._made += 1
                root = os.path.join(self._scratch, f"copy{self._made}", "project")
            else:
                root = kept.root
        if kept is not None:
            try:
                kept.sync()
                return kept
            except OSError:
                remove_tree(root)  # a run left it in a state it cannot be read back from
        fresh = WarmCopy(self._source, root)
        fresh.sync()
        return fresh

    def give_back(self, copy: WarmCopy) -> None:
        with self._lock:
            self._free.append(copy)
