"""Vim 9 + ALE end to end: editors/vim/code_evolver.vim (the README's block) fixes a file.

Vim runs on a terminal with that block and tests/vim/driver.vim as its vimrc; ALE starts the
server. What ALE does differs from the other editors in two ways that matter: it sends back
in the codeAction request only diagnostics that carry a `code`, and it applies a
workspace/applyEdit without ever answering it. A fake Ollama answers the model requests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import role_config
from samples import BUGGY, FIXED, FIXED_FUNCTION
from terminal import run_on_terminal

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "editors" / "vim" / "code_evolver.vim"
DRIVER = ROOT / "tests" / "vim" / "driver.vim"
ALE = Path("/usr/share/vim/vimfiles/pack/dist-bundle/opt/ale")  # Debian's vim-ale
WAIT = 60  # seconds each step of the driver may take
KILL_AFTER = 150
BUGGY_LINE = 4  # 0-based: `return total / len(value)`


def vim_with_ale() -> str:
    """Vim 9 with channels and Debian's ALE, or a skip (a failure in CI, which installs them)."""
    vim = shutil.which("vim")
    why = ""
    if vim is None:
        why = "vim is not on PATH (apt-get install vim-nox)"
    elif not ALE.exists():
        why = f"ALE is not at {ALE} (apt-get install vim-ale)"
    else:
        version = subprocess.run(
            [vim, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        if not re.search(r"Vi IMproved 9\.", version) or "+job" not in version:
            why = f"{vim} is not Vim 9 with +job"
    if why and os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {why}")
    if why:
        pytest.skip(why)
    assert vim is not None
    return vim


def test_docs_show_the_tested_vim_block():
    snippet = SNIPPET.read_text(encoding="utf-8")
    for doc in (ROOT / "README.md", ROOT / "docs" / "editors.md"):
        blocks = re.findall(r"^```vim\n(.*?)^```", doc.read_text(encoding="utf-8"), re.S | re.M)
        assert blocks == [snippet], f"{doc} does not show {SNIPPET} as it is"


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pseudo-terminal")
@pytest.mark.timeout(KILL_AFTER + 60)
def test_vim_ale_fix_with_codellama(fake, write_config, tmp_path):
    vim = vim_with_ale()
    fake.reply = f"Here is the fix:\n```python\n{FIXED_FUNCTION}```\n"
    urls = [fake.url]
    config = write_config(role_config({"generator": urls, "overseer": urls, "evaluator": urls}))
    source = tmp_path / "buggy.py"
    source.write_text(BUGGY, encoding="utf-8")
    vimrc = tmp_path / "vimrc"
    vimrc.write_text(f"source {SNIPPET}\nsource {DRIVER}\n", encoding="utf-8")
    log = tmp_path / "driver.log"
    bin_dir = str(Path(sys.executable).parent)  # where this environment's code-evolver lives
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "TERM": "xterm-256color",
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "CODE_EVOLVER_CONFIG": str(config),
        "CE_OUT": str(tmp_path / "out.py"),
        "CE_LOG": str(log),
        "CE_TIMEOUT": str(WAIT),
    }
    assert shutil.which("code-evolver", path=env["PATH"]), "code-evolver is not installed"

    run = run_on_terminal(
        [vim, "-N", "-u", str(vimrc), "-i", "NONE", str(source)], env, tmp_path, KILL_AFTER
    )

    logged = (
        f"exit {run.code} {run.why_killed}\n--- driver log\n"
        f"{log.read_text(errors='replace') if log.exists() else '(none)'}"
        f"\n--- screen (last part)\n{run.screen[-1500:]}"
    )
    assert run.code == 0, logged
    assert re.search(
        rf"^diagnostic: line {BUGGY_LINE}: TypeError: object of type 'int' has "
        r"no len\(\) \(code TypeError\)$",
        logged,
        re.M,
    ), logged
    assert "picked: Fix with codellama: TypeError: object of type 'int' has no len()" in logged
    assert "server: workspace/applyEdit" in logged, logged
    # ALE applied the edit but never said so: the command's answer says it cannot know.
    assert re.search(r"^command answered: applied (0|v:false): .*did not answer", logged, re.M), (
        logged
    )
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == FIXED, logged
    assert fake.generate_count == 1, logged
