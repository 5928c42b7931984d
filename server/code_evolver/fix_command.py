"""`code-evolver fix FILE`: the fix loop from the command line, printing a unified diff."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys

from .config import ConfigManager
from .llm import OllamaClient
from .pipeline.fix_loop import FixSession
from .pipeline.lines import split_lines
from .source_text import decode_source, lone_surrogate
from .values import Target

# What marks a project's top folder when there is no git work tree: its packaging, test and
# environment files. Without one, the tests in tests/, a root conftest.py and the project's
# .venv would not be seen by a fix of pkg/mod.py.
PROJECT_MARKERS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    "Pipfile",
    "poetry.lock",
    "uv.lock",
    "requirements.txt",
    ".venv",
    "venv",
)


def workspace_root(path: str) -> str:
    """The enclosing git work tree, else the nearest folder above the file that holds a
    project marker (below the home folder), else the file's own directory."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        top = None
    if top is not None and top.returncode == 0 and top.stdout.strip():
        return top.stdout.strip()
    return _marked_folder(directory) or directory


def _marked_folder(directory: str) -> str | None:
    home = os.path.expanduser("~")
    folder = directory
    while folder != home:
        if any(os.path.lexists(os.path.join(folder, mark)) for mark in PROJECT_MARKERS):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return None


def fix_file_cli(
    client: OllamaClient, config: ConfigManager, file: str, *, write: bool, max_attempts: int | None
) -> int:
    path = os.path.abspath(file)
    language = "python" if path.endswith(".py") else os.path.splitext(path)[1].lstrip(".")
    try:
        with open(path, "rb") as handle:
            original = handle.read()
        # Read as Python reads it, line ends untouched: --write changes the fixed lines only.
        source, encoding = decode_source(original, python=language == "python")
    except OSError as exc:
        print(f"code-evolver: cannot read {file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(
            f"code-evolver: cannot read {file}: it is not {exc.encoding} text (byte "
            f"{exc.start}); save it as UTF-8, or declare its encoding in its first line "
            "(# -*- coding: latin-1 -*-)",
            file=sys.stderr,
        )
        return 2
    except SyntaxError as exc:  # an encoding declaration Python does not know
        print(f"code-evolver: cannot read {file}: {exc.msg}", file=sys.stderr)
        return 2
    surrogate = lone_surrogate(source, file)
    if surrogate is not None:  # a declared encoding such as raw_unicode_escape can decode one
        print(f"code-evolver: {surrogate}", file=sys.stderr)
        return 2
    target = Target(path, language, workspace_root(path))

    def step(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    with FixSession(
        client, config.settings, target, on_step=step, max_attempts=max_attempts
    ) as session:
        outcome = session.fix(source, [], whole_file=False)
    if not outcome.changed or outcome.new_source is None:
        print(outcome.message, file=sys.stderr)
        return 1 if outcome.attempts else 0
    diff = difflib.unified_diff(
        split_lines(source, keepends=True),
        split_lines(outcome.new_source, keepends=True),
        fromfile=f"a/{target.relative}",
        tofile=f"b/{target.relative}",
    )
    sys.stdout.writelines(diff)
    if outcome.verdict == "partial":
        print(
            f"{outcome.message}; not written: apply the diff by hand if you want it",
            file=sys.stderr,
        )
        return 1
    if write:
        try:
            data = outcome.new_source.encode(encoding)
        except UnicodeEncodeError as exc:
            bad = outcome.new_source[exc.start : exc.end]
            print(
                f"code-evolver: not written: the fix has characters {encoding}, the encoding "
                f"of {file}, cannot hold ({bad!r}); apply the diff by hand",
                file=sys.stderr,
            )
            return 1
        with open(path, "rb") as now:
            if now.read() != original:
                print(f"code-evolver: {file} changed while fixing; not written", file=sys.stderr)
                return 1
        with open(path, "wb") as out:
            out.write(data)
        print(f"{outcome.message}; written to {file}", file=sys.stderr)
    else:
        print(f"{outcome.message}; run with --write to apply", file=sys.stderr)
    return 0
