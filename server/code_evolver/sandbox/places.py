"""Where one run happens: an overlay of the project at its real path, or a fresh copy of it."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..source_text import source_bytes
from .copy_pool import CopyPool
from .isolation import Isolation, NamespaceRun
from .sweep import make_scratch, remove_tree

__all__ = ["RunPlace", "Sandbox"]

# overlayfs splits its options at "," and its layer lists at ":"; such a path cannot be named.
_UNMOUNTABLE = (",", ":", "\\")


@dataclass(frozen=True)
class RunPlace:
    """The project as one run sees it, and where the run may put temporary files."""

    root: str  # the real root with namespaces, the copy's root otherwise
    real_root: str
    tmp: str
    namespace: NamespaceRun | None

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def to_real(self, text: str) -> str:
        """Output as the user should read it: paths name the real project, not a copy."""
        return text if self.root == self.real_root else text.replace(self.root, self.real_root)


class Sandbox:
    """A checker's scratch folder, and a fresh place for each of its runs."""

    def __init__(self, project_root: str, isolation: Isolation, *, network: bool) -> None:
        self.root = os.path.abspath(project_root)
        self.network = network
        self._scratch: str | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._removals: list[threading.Thread] = []
        self._copies: CopyPool | None = None
        self.isolation = isolation
        if isolation.namespaces:
            unusable = self._overlay_problem()
            if unusable:
                self.isolation = Isolation("copy", unusable)

    def _overlay_problem(self) -> str | None:
        real = os.path.realpath(self.root)
        if any(mark in real for mark in _UNMOUNTABLE):
            return f"the project folder {real} has a ',', ':' or '\\' that overlayfs cannot name"
        scratch = os.path.realpath(tempfile.gettempdir())
        if scratch == real or scratch.startswith(real.rstrip(os.sep) + os.sep):
            return f"the project folder {real} holds the temporary folder {scratch}"
        return None

    def fall_back(self, reason: str) -> None:
        """Copies from now on: the namespaces work here, but not for this project's folder."""
        self.isolation = Isolation("copy", f"{reason}, for {self.root}")

    @property
    def scratch(self) -> str:
        with self._lock:
            if self._scratch is None:
                self._scratch = make_scratch()
            return self._scratch

    def close(self) -> None:
        with self._lock:
            scratch, self._scratch = self._scratch, None
            removals, self._removals = self._removals, []
        for removal in removals:
            removal.join()
        if scratch is not None:
            remove_tree(scratch)

    @contextlib.contextmanager
    def place(self, files: Mapping[str, str]) -> Iterator[RunPlace]:
        """A place for one run with `files` (paths relative to the project) holding the given
        text; nothing the run writes reaches the project or a later run (an overlay's upper
        layer is removed when the block ends; a kept copy is brought back before its next run)."""
        with self._lock:
            self._count += 1
            number = self._count
        folder = Path(self.scratch, f"run{number}")
        tmp = folder / "tmp"
        tmp.mkdir(parents=True)
        copies = self._copy_pool() if not self.isolation.namespaces else None
        copy = None
        try:
            copy = copies.take() if copies is not None else None
            if copy is None:
                yield self._overlay_place(folder, tmp, files)
            else:
                _write_files(Path(copy.root), files)
                yield RunPlace(copy.root, self.root, str(tmp), None)
        finally:
            if copies is not None and copy is not None:
                copies.give_back(copy)  # brought back in line with the project when next taken
            # Off the run's path: the result is ready before the run's files are gone.
            # close() waits for it; if the worker dies first, the next one sweeps.
            removal = threading.Thread(target=remove_tree, args=(str(folder),), daemon=True)
            removal.start()
            with self._lock:
                self._removals = [r for r in self._removals if r.is_alive()] + [removal]

    def _copy_pool(self) -> CopyPool:
        scratch = self.scratch
        with self._lock:
            if self._copies is None:
                self._copies = CopyPool(self.root, scratch)
            return self._copies

    def _overlay_place(self, folder: Path, tmp: Path, files: Mapping[str, str]) -> RunPlace:
        upper, work = folder / "upper", folder / "work"
        upper.mkdir()
        work.mkdir()
        # Written before the overlay is mounted (the kernel does not allow changing a layer of
        # a mounted overlay); plain folders in the upper layer merge with the project's.
        _write_files(upper, files)
        real = os.path.realpath(self.root)
        spec = NamespaceRun(real, str(upper), str(work), self.network)
        return RunPlace(self.root, self.root, str(tmp), spec)


def _write_files(base: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()  # a link in the copy could point back at the user's file
        # The bytes Python will read: a declared encoding kept, line ends as they are.
        path.write_bytes(source_bytes(text, relative))
