"""Where one run happens: an overlay of the project at its real path, or a fresh copy of it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..source_text import source_bytes
from .copy_pool import CopyPool
from .interpreter import without_server_paths
from .isolation import Isolation, NamespaceRun
from .sweep import make_scratch, remove_tree

__all__ = ["RunPlace", "Sandbox"]

_ASK_PATH = "import sys; print('\\0'.join(sys.path))"
# overlayfs splits its options at "," and its layer lists at ":"; such a path cannot be named.
_UNMOUNTABLE = (",", ":", "\\")


@dataclass(frozen=True)
class RunPlace:
    """The project as one run sees it, and where the run may put temporary files."""

    root: str  # the real root with namespaces, the copy's root otherwise
    real_root: str
    tmp: str
    namespace: NamespaceRun | None
    # a copy's: the project's folders on an interpreter's own path (relative to the project)
    project_entries: Callable[[str], tuple[str, ...]] | None = None

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def to_real(self, text: str) -> str:
        """Output as the user should read it: paths name the real project, not a copy."""
        return text if self.root == self.real_root else text.replace(self.root, self.real_root)

    def environment(
        self,
        inherited: Mapping[str, str],
        *,
        python: str,
        venv: str | None,
        import_paths: Sequence[str],
    ) -> dict[str, str]:
        """The run's environment: `inherited` with every variable naming a folder of the
        project naming this place instead (PWD, PYTHONPATH), temporary files in `tmp`, and
        the project's interpreter first on PATH, as if its environment were activated."""
        env = dict(inherited)
        env["PWD"] = self.root  # a shell's idea of the working folder, which programs trust
        env.pop("OLDPWD", None)
        # An editable install's .pth names the real `src`: the copy's is put before it.
        entries = self.project_entries(python) if self.project_entries is not None else ()
        in_copy = [p for p in (os.path.join(self.root, e) for e in entries) if os.path.isdir(p)]
        inherited_paths = filter(None, env.get("PYTHONPATH", "").split(os.pathsep))
        env["PYTHONPATH"] = os.pathsep.join(
            [*import_paths, *in_copy, *map(self._here, inherited_paths)]
        )
        for name in ("TMPDIR", "TEMP", "TMP"):
            env[name] = self.tmp  # removed with the run
        if venv is not None:  # a `python` the run starts is the project's too
            env["PATH"] = os.pathsep.join(
                [os.path.dirname(python), *filter(None, [env.get("PATH")])]
            )
            env["VIRTUAL_ENV"] = venv
        # A copy leaves environments out: one inside the project stays at its real place,
        # where tools that install into $VIRTUAL_ENV (uv, Poetry) would change the user's.
        # Its interpreter needs no VIRTUAL_ENV (pyvenv.cfg says where it belongs).
        active = env.get("VIRTUAL_ENV")
        if active and self._here(active) != active:
            del env["VIRTUAL_ENV"]
        return env

    def _here(self, path: str) -> str:
        """`path` as this place has it: in a copy, a path into the project is one into the copy."""
        if self.root == self.real_root:
            return path
        real, project = os.path.realpath(path), os.path.realpath(self.real_root)
        if not _within(real, project):
            return path
        return os.path.normpath(os.path.join(self.root, os.path.relpath(real, project)))


class Sandbox:
    """A checker's scratch folder, and a fresh place for each of its runs."""

    def __init__(self, project_root: str, isolation: Isolation, *, network: bool) -> None:
        self.root = os.path.abspath(project_root)
        self._real = os.path.realpath(self.root)
        self.network = network
        self._scratch: str | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._removals: list[threading.Thread] = []
        self._copies: CopyPool | None = None
        self._entries: dict[str, tuple[str, ...]] = {}
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
        placed, leads_out = _placed(self._real, files)
        # An overlay covers the project only: a file under a link out of it is run in a copy,
        # which holds what the link points at as content (and keeps the file's neighbours).
        copies = self._copy_pool() if leads_out or not self.isolation.namespaces else None
        copy = None
        try:
            copy = copies.take() if copies is not None else None
            if copy is None:
                yield self._overlay_place(folder, tmp, placed)
            else:
                _write_files(Path(copy.root), placed)
                yield RunPlace(copy.root, self.root, str(tmp), None, self._project_entries)
        finally:
            if copies is not None and copy is not None:
                copies.give_back(copy)  # brought back in line with the project when next taken
            # Off the run's path: the result is ready before the run's files are gone.
            # close() waits for it; if the worker dies first, the next one sweeps.
            removal = threading.Thread(target=remove_tree, args=(str(folder),), daemon=True)
            removal.start()
            with self._lock:
                self._removals = [r for r in self._removals if r.is_alive()] + [removal]

    def _project_entries(self, python: str) -> tuple[str, ...]:
        """The project's folders on `python`'s own import path, asked once per interpreter."""
        with self._lock:
            known = self._entries.get(python)
        if known is None:
            known = _project_entries(python, self._real)
            with self._lock:
                self._entries[python] = known
        return known

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
        spec = NamespaceRun(self._real, str(upper), str(work), self.network)
        return RunPlace(self.root, self.root, str(tmp), spec)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _project_entries(python: str, real_root: str) -> tuple[str, ...]:
    env = without_server_paths(os.environ)
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(
            [python, "-c", _ASK_PATH],
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    found = []
    for entry in done.stdout.rstrip("\n").split("\0"):
        real = os.path.realpath(entry) if entry else ""
        if real and _within(real, real_root):
            found.append(os.path.relpath(real, real_root))
    return tuple(found)


def _placed(real_root: str, files: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """`files` by where each lies in the project once the links on its way are followed (an
    overlay's upper layer and a copy hold each file at that place: a file written under a
    link's name would hide the folder the link points at), and whether a folder on the way of
    one leads out of the project."""
    placed: dict[str, str] = {}
    leads_out = False
    for relative, text in files.items():
        *folders, name = os.path.normpath(relative).split(os.sep)
        done = ""
        for index, folder in enumerate(folders):
            resolved = os.path.realpath(os.path.join(real_root, done, folder))
            if not _within(resolved, real_root):  # the copy holds it as content, here
                done, leads_out = os.path.join(done, *folders[index:]), True
                break
            done = os.path.relpath(resolved, real_root)
        else:
            # the file itself may be a link within the project; one out of it is replaced
            resolved = os.path.realpath(os.path.join(real_root, done, name))
            if _within(resolved, real_root) and resolved != real_root:
                done, name = os.path.relpath(resolved, real_root), ""
        placed[os.path.normpath(os.path.join(done, name))] = text
    return placed, leads_out


def _write_files(base: Path, files: Mapping[str, str]) -> None:
    inside = os.path.realpath(base)
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _within(os.path.realpath(path.parent), inside):
            # never expected: a copy's links are brought back within it before each run
            raise RuntimeError(f"{path.parent} leads out of the run's place {base}")
        if path.is_symlink():
            path.unlink()  # a link in the copy could point back at the user's file
        # The bytes Python will read: a declared encoding kept, line ends as they are.
        path.write_bytes(source_bytes(text, relative))
