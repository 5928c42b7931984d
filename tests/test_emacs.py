"""Emacs end to end: the README's Eglot block in the two Eglots people have.

Debian 12's `emacs-nox` 28 with `elpa-eglot` 1.9 (no codeAction/resolve: the action's command
runs and the server sends workspace/applyEdit), and Emacs 30 with its built-in Eglot 1.17
(resolve). Emacs runs on a terminal with the README's block as its init file and
tests/emacs/driver.el doing what a user does: save, put the cursor on the diagnostic, run
`eglot-code-actions`, pick the action. A fake Ollama answers and counts the model requests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import role_config
from samples import BUGGY, FIXED, FIXED_FUNCTION
from terminal import Run, run_on_terminal

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "emacs" / "driver.el"
EMACSEN = {"28": "emacs", "30": "emacs-30"}  # emacs-30: .ci/emacs30.sh unpacks it
WAIT = 60  # seconds each wait inside Emacs may take; the driver gives up after twice that
KILL_AFTER = 150  # seconds before the test kills Emacs and everything it started
MAX_ATTEMPTS = 2  # fix.max_attempts: a fix that finds nothing may ask the model this often

BUGGY_LINE = 4  # 0-based: `return total / len(value)`
STUB = '''def median(values):
    """The middle value of values, once sorted."""
    pass


print(median([3, 1, 2]))
'''
MEDIAN = '''def median(values):
    """The middle value of values, once sorted."""
    return sorted(values)[len(values) // 2]
'''


def eglot_blocks(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    blocks = re.findall(r"^```elisp\n(.*?)^```", text, re.S | re.M)
    return [block for block in blocks if '"code-evolver" "lsp"' in block]


def test_docs_show_one_eglot_block():
    """README.md and docs/editors.md show the same block, the one the tests below run."""
    readme, docs = eglot_blocks(ROOT / "README.md"), eglot_blocks(ROOT / "docs" / "editors.md")
    assert len(readme) == 1 and docs == readme
    assert ":overrides (:run_on_save t)" in readme[0]  # without it Eglot shows no diagnostic


def emacs_for(version: str) -> str:
    """The Emacs of that major version, or a skip (a failure in CI, which installs both)."""
    found = shutil.which(EMACSEN[version])
    why = ""
    if found is None:
        why = f"{EMACSEN[version]} is not on PATH (.ci/run installs it)"
    else:
        major = subprocess.run(
            [found, "--batch", "--eval", "(princ emacs-major-version)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.strip()
        if major != version:
            why = f"{found} is Emacs {major or '?'}, not {version}"
    if why and os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {why}")
    if why:
        pytest.skip(why)
    assert found is not None
    return found


def run_emacs(
    emacs: str,
    tmp_path: Path,
    source: Path,
    config: Path,
    mode: str,
    line: int = 0,
    stop_if=lambda: None,
) -> tuple[Run, str]:
    """Emacs on a terminal visiting `source`; returns how it ended and everything logged."""
    home = tmp_path / "home"
    (home / ".emacs.d").mkdir(parents=True)
    # Not the user's business but the test machine's: no native compilation of Eglot's .elc
    # files in the background while the test runs.
    (home / ".emacs.d" / "early-init.el").write_text(
        "(setq native-comp-jit-compilation nil native-comp-deferred-compilation nil)\n"
    )
    block = eglot_blocks(ROOT / "README.md")[0]
    (home / ".emacs.d" / "init.el").write_text(
        f"{block}\n(load {json.dumps(str(DRIVER))} nil t)\n", encoding="utf-8"
    )
    log = tmp_path / "driver.log"
    bin_dir = str(Path(sys.executable).parent)  # where this environment's code-evolver lives
    env = {
        **os.environ,
        "HOME": str(home),
        "TERM": "xterm-256color",
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "CODE_EVOLVER_CONFIG": str(config),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "CE_FILE": str(source),
        "CE_OUT": str(tmp_path / "out.py"),
        "CE_LOG": str(log),
        "CE_MODE": mode,
        "CE_LINE": str(line),
        "CE_TIMEOUT": str(WAIT),
    }
    assert shutil.which("code-evolver", path=env["PATH"]), "code-evolver is not installed"
    run = run_on_terminal([emacs, "-nw", str(source)], env, tmp_path, KILL_AFTER, stop_if)
    logged = log.read_text(errors="replace") if log.exists() else "(no driver log)"
    return run, (
        f"exit {run.code} {run.why_killed}\n--- driver log\n{logged}"
        f"\n--- screen (last part)\n{run.screen[-1500:]}"
    )


def config_for(write_config, fake) -> Path:
    urls = [fake.url]
    config = role_config({"generator": urls, "overseer": urls, "evaluator": urls})
    config["fix"] = {"max_attempts": MAX_ATTEMPTS}
    config["generate"] = {"write_tests": False}
    return write_config(config)


def assert_emacs_and_eglot(version: str, logged: str) -> None:
    eglot = {"28": "1.9", "30": "1.17"}[version]
    assert re.search(rf"^emacs {version}\.\d+, eglot {re.escape(eglot)}\b", logged, re.M), logged


def assert_path(version: str, logged: str) -> None:
    """Eglot 1.17 resolves the action; Eglot 1.9 runs its command, and the edit comes back
    as workspace/applyEdit."""
    if version == "30":
        assert "request: codeAction/resolve" in logged, logged
        assert "workspace/executeCommand" not in logged, logged
    else:
        assert "request: workspace/executeCommand" in logged, logged
        assert "codeAction/resolve" not in logged, logged


PARAMS = pytest.mark.parametrize("version", ["28", "30"])
pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pseudo-terminal"),
    pytest.mark.timeout(KILL_AFTER + 60),
]


@PARAMS
def test_emacs_fix_with_codellama(fake, write_config, tmp_path, version):
    emacs = emacs_for(version)
    fake.reply = f"Here is the fix:\n```python\n{FIXED_FUNCTION}```\n"
    source = tmp_path / "buggy.py"
    source.write_text(BUGGY, encoding="utf-8")

    run, logged = run_emacs(emacs, tmp_path, source, config_for(write_config, fake), "fix")

    assert run.code == 0, logged
    assert_emacs_and_eglot(version, logged)
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == FIXED, logged
    # Eglot shows the source and the code first: "code-evolver [TypeError]: TypeError: ..."
    assert re.search(
        rf"^diagnostic: line {BUGGY_LINE}: code-evolver \[TypeError\]: TypeError: object of "
        r"type 'int' has no len\(\)$",
        logged,
        re.M,
    ), logged
    assert "picked: Fix with codellama: TypeError: object of type 'int' has no len()" in logged
    assert_path(version, logged)
    if version == "28":
        assert "server asks: workspace/applyEdit" in logged, logged
    assert fake.generate_count == 1, logged
    assert source.read_text(encoding="utf-8") == BUGGY  # the buffer changed, not the file


@PARAMS
def test_emacs_generate_with_codellama(fake, write_config, tmp_path, version):
    emacs = emacs_for(version)

    def reply(body):
        if body.get("model", "").startswith("codellama"):
            return f"```python\n{MEDIAN}```"
        return "Sort a copy of the values and take the one in the middle."

    fake.reply_fn = reply
    source = tmp_path / "stats.py"
    source.write_text(STUB, encoding="utf-8")

    run, logged = run_emacs(emacs, tmp_path, source, config_for(write_config, fake), "generate")

    assert run.code == 0, logged
    assert_emacs_and_eglot(version, logged)
    assert "picked: Generate median() with codellama" in logged, logged
    assert_path(version, logged)
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == STUB.replace(
        '    """The middle value of values, once sorted."""\n    pass\n',
        '    """The middle value of values, once sorted."""\n'
        "    return sorted(values)[len(values) // 2]\n",
    ), logged


@PARAMS
def test_emacs_fix_that_finds_nothing_asks_the_model_at_most_max_attempts(
    fake, write_config, tmp_path, version
):
    emacs = emacs_for(version)
    still_buggy = BUGGY.split("\n\n\n")[0] + "\n"
    fake.reply = f"```python\n{still_buggy}```"  # every answer keeps the bug
    source = tmp_path / "buggy.py"
    source.write_text(BUGGY, encoding="utf-8")

    def asked_too_often() -> str | None:
        count = fake.generate_count
        return f"{count} model requests for one fix" if count > MAX_ATTEMPTS else None

    run, logged = run_emacs(
        emacs, tmp_path, source, config_for(write_config, fake), "nothing", stop_if=asked_too_often
    )

    assert fake.generate_count <= MAX_ATTEMPTS, logged
    assert run.code == 0, logged
    assert_emacs_and_eglot(version, logged)
    assert_path(version, logged)
    assert f"No fix after {MAX_ATTEMPTS} attempt" in logged, logged
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == BUGGY, logged
