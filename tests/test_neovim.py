"""Neovim end to end: the README's Lua snippet starts the server, "Fix with codellama" fixes a file.

Headless `nvim` loads editors/neovim/code_evolver.lua (the file the docs show) and the driver
tests/nvim/driver.lua, which does what a user does: save (the server publishes the failure as a
diagnostic), press <leader>ca on that line, pick "Fix with ...". A fake Ollama answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import role_config
from samples import BUGGY, FIXED, FIXED_FUNCTION

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "editors" / "neovim" / "code_evolver.lua"
DRIVER = ROOT / "tests" / "nvim" / "driver.lua"
NVIM = shutil.which("nvim")
WAIT_MS = 60_000  # each wait inside Neovim; the driver gives up after twice that in all
KILL_AFTER = 150  # seconds before the whole nvim process group is killed

BUGGY_LINE = 4  # 0-based: `return total / len(value)`


def nvim_version() -> tuple[int, ...]:
    first = subprocess.run(
        [NVIM, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()[0]
    found = re.search(r"v(\d+)\.(\d+)\.(\d+)", first)
    return tuple(int(n) for n in found.groups()) if found else (0, 0, 0)


def lua_string(text: str) -> str:
    assert "]==]" not in text
    return f"[==[{text}]==]"


def run_nvim(tmp_path: Path, source: Path, config: Path, mode: str) -> tuple[int, str]:
    """Run headless Neovim on `source`; returns its exit code and everything it logged."""
    init = tmp_path / "init.lua"
    init.write_text(
        f"dofile({lua_string(str(SNIPPET))})\ndofile({lua_string(str(DRIVER))})\n", encoding="utf-8"
    )
    log = tmp_path / "driver.log"
    home = tmp_path / "home"
    bin_dir = str(Path(sys.executable).parent)  # where this environment's code-evolver lives
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "CODE_EVOLVER_CONFIG": str(config),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),  # Neovim 0.7 writes lsp.log here
        "CE_FILE": str(source),
        "CE_OUT": str(tmp_path / "out.py"),
        "CE_LOG": str(log),
        "CE_MODE": mode,
        "CE_TIMEOUT_MS": str(WAIT_MS),
    }
    assert shutil.which("code-evolver", path=env["PATH"]), "code-evolver is not installed"
    process = subprocess.Popen(
        [NVIM, "--headless", "--clean", "-u", str(init)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=KILL_AFTER)
        code, note = process.returncode, ""
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        output, _ = process.communicate()
        code, note = -1, f"nvim killed after {KILL_AFTER} s\n"
    finally:
        kill_group(process.pid)  # a language server left behind by a failed run
    return code, note + details(log, output, home)


def kill_group(pid: int) -> None:
    """Kill nvim's process group: nvim and the language server it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def details(log: Path, output: bytes, home: Path) -> str:
    parts = [
        f"--- driver log\n{log.read_text(errors='replace') if log.exists() else '(none)'}",
        f"--- nvim output\n{output.decode(errors='replace')}",
    ]
    parts += [f"--- {p}\n{p.read_text(errors='replace')[-4000:]}" for p in home.rglob("lsp.log")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def nvim_ok() -> None:
    if nvim_version() < (0, 7, 0):
        pytest.skip("the Neovim snippet needs Neovim 0.7 or newer")


def test_docs_show_the_tested_snippet():
    """Every Lua block that starts the server in the docs is the file this test runs."""
    snippet = SNIPPET.read_text(encoding="utf-8")
    shown = {}
    for doc in (ROOT / "README.md", ROOT / "docs" / "editors.md"):
        text = doc.read_text(encoding="utf-8") if doc.exists() else ""
        blocks = re.findall(r"^```lua\n(.*?)^```", text, re.S | re.M)
        shown[doc.name] = [b for b in blocks if "'code-evolver', 'lsp'" in b]
        assert all(block == snippet for block in shown[doc.name]), f"{doc} differs from {SNIPPET}"
    assert shown["editors.md"], "docs/editors.md does not show the Neovim snippet"


@pytest.mark.parametrize(
    "mode",
    [
        "resolve",  # Neovim's own capabilities: the server leaves the edit to codeAction/resolve
        "command",  # without resolve support the action carries the command, run exactly once
    ],
)
@pytest.mark.skipif(NVIM is None, reason="nvim is not on PATH (apt-get install neovim)")
@pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX process groups")
@pytest.mark.timeout(KILL_AFTER + 30)
@pytest.mark.usefixtures("nvim_ok")
def test_neovim_fix_with_codellama(fake, write_config, tmp_path, mode):
    reply = f"Here is the fixed code:\n```python\n{FIXED_FUNCTION}```\nIt divides by len(values)."
    fake.reply = reply
    fake.replies = [reply]
    urls = [fake.url]
    config = role_config({"generator": urls, "overseer": urls, "evaluator": urls})
    config = write_config(config)
    source = tmp_path / "buggy.py"
    source.write_text(BUGGY, encoding="utf-8")

    code, logged = run_nvim(tmp_path, source, config, mode)

    assert code == 0, logged
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == FIXED, logged
    assert (
        f"diagnostic: line {BUGGY_LINE}: TypeError: object of type 'int' has no len()" in logged
    ), logged
    assert "offered: Fix with codellama: TypeError: object of type 'int' has no len()" in logged
    assert f"shape: {mode}" in logged, logged
    assert "request: codeAction/resolve" in logged, logged  # Neovim resolves edit-less actions
    if mode == "command":  # Neovim runs the command; the server sends workspace/applyEdit
        assert "request: workspace/executeCommand" in logged, logged
        assert "workspace/applyEdit: edit" in logged, logged
    else:
        assert "workspace/executeCommand" not in logged, logged
        assert "workspace/applyEdit" not in logged, logged
    assert fake.generate_count == 1, logged
    prompt = next(r.body["prompt"] for r in fake.requests if r.path == "/api/generate")
    assert "TypeError: object of type 'int' has no len()" in prompt  # from really running it
    assert source.read_text(encoding="utf-8") == BUGGY  # the buffer changed, not the file
