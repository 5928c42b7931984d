"""The project's Python for `{python}`, and an environment free of the server's own libraries."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUNDLED_VARIABLE",
    "ProjectPython",
    "has_pytest",
    "project_python",
    "without_server_paths",
]

# The VS Code extension names the folder of its bundled libraries here (it also puts that
# folder on PYTHONPATH to start the server); runs get PYTHONPATH without it.
BUNDLED_VARIABLE = "CODE_EVOLVER_BUNDLED_PATH"
_SERVER_HOME = str(Path(__file__).resolve().parents[2])  # the folder holding code_evolver/
_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"


@dataclass(frozen=True)
class ProjectPython:
    path: str
    source: str  # where it came from, for status: "python in config.yaml", ".venv in /w", ...
    problem: str | None = None  # set when the configured interpreter cannot be used

    @property
    def venv(self) -> str | None:
        """The virtual environment folder it belongs to, if it is one."""
        folder = Path(self.path).parent.parent
        return str(folder) if (folder / "pyvenv.cfg").is_file() else None


def project_python(workspace_root: str, configured: str | None = None) -> ProjectPython:
    """The explicit setting, else $VIRTUAL_ENV, else an in-project environment (.venv, venv,
    Poetry's in-cache one), else the interpreter the server runs on."""
    if configured:
        path = os.path.expanduser(configured)
        if not os.path.isabs(path):
            path = os.path.join(workspace_root, path)
        if os.path.isdir(path):
            path = os.path.join(path, _BIN, _EXE)
        if not os.path.isfile(path):
            return ProjectPython(
                configured,
                "the python setting",
                f"the interpreter set by `python` ({configured}) does not exist; fix the path "
                "in config.yaml or in the editor's Python interpreter setting",
            )
        return ProjectPython(path, "the python setting")
    virtual = os.environ.get("VIRTUAL_ENV")
    if virtual and _interpreter_in(virtual):
        return ProjectPython(_interpreter_in(virtual) or "", "$VIRTUAL_ENV")
    for name in (".venv", "venv"):
        found = _interpreter_in(os.path.join(workspace_root, name))
        if found:
            return ProjectPython(found, f"{name} in {workspace_root}")
    poetry = _poetry_environment(workspace_root)
    if poetry:
        return ProjectPython(poetry, "Poetry's environment for this project")
    return ProjectPython(sys.executable, "the interpreter Code Evolver runs on")


def _interpreter_in(environment: str) -> str | None:
    path = os.path.join(environment, _BIN, _EXE)
    return path if os.path.isfile(path) else None


def _poetry_environment(root: str) -> str | None:
    """Poetry keeps environments in its cache as <name>-<hash of the project path>-py<X.Y>; the
    folder name is worked out here instead of asking `poetry` (a second per run)."""
    try:
        text = Path(root, "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r"^\[tool\.poetry\][^\[]*?^name\s*=\s*\"([^\"]+)\"", text, re.M | re.S)
    if match is None:
        return None
    name = re.sub(r'[ $`!*@"\\\r\n\t]', "_", match.group(1).lower())[:42]
    digest = base64.urlsafe_b64encode(hashlib.sha256(root.encode()).digest()).decode()[:8]
    cache = os.environ.get("POETRY_CACHE_DIR") or os.path.expanduser(
        "~/Library/Caches/pypoetry" if sys.platform == "darwin" else "~/.cache/pypoetry"
    )
    for folder in sorted(Path(cache, "virtualenvs").glob(f"{name}-{digest}-py*"), reverse=True):
        found = _interpreter_in(str(folder))
        if found:
            return found
    return None


def without_server_paths(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with PYTHONPATH stripped of the server's own libraries (bundled or installed)."""
    child = dict(env)
    ours = {os.path.normcase(os.path.realpath(_SERVER_HOME))}
    for entry in child.pop(BUNDLED_VARIABLE, "").split(os.pathsep):
        if entry:
            ours.add(os.path.normcase(os.path.realpath(entry)))
    kept = [
        entry
        for entry in child.get("PYTHONPATH", "").split(os.pathsep)
        if entry and os.path.normcase(os.path.realpath(entry)) not in ours
    ]
    if kept:
        child["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        child.pop("PYTHONPATH", None)
    return child


_pytest_lock = threading.Lock()
_pytest_known: dict[tuple[str, float], tuple[bool, bool]] = {}
_ASK = (
    "import importlib.util as u;"
    "print(u.find_spec('pytest') is not None, u.find_spec('pytest_timeout') is not None)"
)


def has_pytest(python: str, env: Mapping[str, str]) -> tuple[bool, bool]:
    """Whether `python` has pytest, and pytest-timeout; asked once per interpreter."""
    try:
        key = (python, os.stat(python).st_mtime)
    except OSError:
        return False, False
    with _pytest_lock:
        if key in _pytest_known:
            return _pytest_known[key]
    # Compared unresolved: a venv's python links to the same binary but has its own packages.
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        import importlib.util

        answer = (
            importlib.util.find_spec("pytest") is not None,
            importlib.util.find_spec("pytest_timeout") is not None,
        )
    else:
        try:
            done = subprocess.run(
                [python, "-c", _ASK],
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            words = done.stdout.split()
            answer = (words[:1] == ["True"], words[1:2] == ["True"])
        except (OSError, subprocess.SubprocessError):
            answer = (False, False)
    with _pytest_lock:
        _pytest_known[key] = answer
    return answer
