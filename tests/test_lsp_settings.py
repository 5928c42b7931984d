"""Language server settings, run diagnostics, comment/selection generation and the TCP mode."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import pytest
from lsprotocol import types

from conftest import role_config
from lsp_harness import Editor
from processes import alive, running
from samples import BUGGY, FIXED_FUNCTION


@pytest.fixture
def config(fake, write_config):
    return write_config(
        role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    )


async def test_run_on_save_publishes_the_traceback_line(editor, config):
    await editor.start(config, overrides={"run_on_save": True})
    source = "def f(x):\n    return 10 / x\n\n\nprint(f(0))\n"
    uri = editor.open("calc.py", source)
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    assert found.source == "code-evolver"
    assert found.range.start.line == 1
    assert found.message == "ZeroDivisionError: division by zero"
    # The server's own diagnostic gets the lightbulb like any other.
    actions = await editor.actions(uri, 1, [found])
    assert actions[0].title == "Fix with codellama: ZeroDivisionError: division by zero"
    editor.change(uri, source.replace("f(0)", "f(2)"))
    # Stale once the text changes: cleared at once, not at the next save.
    assert await editor.wait_for(lambda: len(editor.client.diagnostics[uri]) == 0)
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await editor.wait_for(lambda: len(editor.client.diagnostics[uri]) == 0)


def _save(editor, uri: str) -> None:
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def test_run_on_save_runs_a_workspace_file_when_it_is_opened(editor, config):
    """Emacs saves no unchanged buffer: the error must be there before any save."""
    await editor.start(config, overrides={"run_on_save": True})
    uri = editor.open("calc.py", "def f(x):\n    return 10 / x\n\n\nprint(f(0))\n")
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    assert (found.range.start.line, found.message) == (1, "ZeroDivisionError: division by zero")


async def test_a_run_reads_the_document_in_the_encoding_it_declares(editor, config):
    """The editor sends text; the run gets it as the bytes Python will read from the file."""
    await editor.start(config, overrides={"run_on_save": True})
    source = '# -*- coding: latin-1 -*-\nname = "René"\nassert len(name) == 4, name\nprint(1 / 0)\n'
    uri = editor.open("greet.py", source)
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    assert (found.range.start.line, found.message) == (3, "ZeroDivisionError: division by zero")


async def test_a_file_outside_the_workspace_runs_on_save_not_on_open(editor, config, tmp_path):
    await editor.start(config, overrides={"run_on_save": True})
    library = Editor(editor.client, tmp_path / "site-packages")  # "go to definition" opens it
    uri = library.open("lib.py", "print(1 / 0)\n")
    await asyncio.sleep(1.5)
    assert not editor.client.diagnostics.get(uri)
    _save(editor, uri)
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))


async def test_a_document_that_is_no_file_does_not_run_on_open(editor, config):
    await editor.start(config, overrides={"run_on_save": True})
    uris = ["untitled:Untitled-1", f"git:{editor.root / 'old.py'}?ref=HEAD"]
    for uri in uris:  # a new buffer, the old side of a diff
        editor.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text="print(1 / 0)\n"
                )
            )
        )
    await asyncio.sleep(1.5)
    assert not any(editor.client.diagnostics.get(uri) for uri in uris)


async def _slow_run(editor: Editor, name: str) -> tuple[str, int]:
    """A file whose run on open sleeps; its URI and the run's pid."""
    uri = editor.open(name, "import time\n\ntime.sleep(120)\n")
    script = str(editor.root / name)
    assert await editor.wait_for(lambda: running(script)), "the run on open did not start"
    return uri, running(script)[0]


async def test_a_newer_run_stops_the_older_one_and_only_its_outcome_lands(editor, config):
    await editor.start(config, overrides={"run_on_save": True, "fix": {"run_timeout": 60}})
    uri, child = await _slow_run(editor, "slow.py")
    (editor.root / "slow.py").write_text("print(1 / 0)\n", encoding="utf-8")
    editor.change(uri, "print(1 / 0)\n")
    _save(editor, uri)
    assert await editor.wait_for(lambda: not alive(child), timeout=10), "the old run still runs"
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    assert found.message == "ZeroDivisionError: division by zero"


async def test_closing_a_document_stops_its_run(editor, config):
    await editor.start(config, overrides={"run_on_save": True, "fix": {"run_timeout": 60}})
    uri, child = await _slow_run(editor, "slow.py")
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await editor.wait_for(lambda: not alive(child), timeout=10), "the run outlived it"
    await asyncio.sleep(0.5)
    assert not editor.client.diagnostics.get(uri)


async def test_runs_of_opened_files_leave_a_fix_its_run(editor, fake, config):
    """Files opened at once (restored tabs) run one at a time, so a fix's verifying run never
    waits behind them; closing them stops their runs, also the ones not started yet."""
    fake.reply = f"```python\n{FIXED_FUNCTION}```"
    await editor.start(config, overrides={"run_on_save": True, "fix": {"run_timeout": 60}})
    names = [f"slow{i}.py" for i in range(3)]
    uris = [editor.open(name, "import time\n\ntime.sleep(120)\n") for name in names]

    def now_running() -> list[str]:
        return [name for name in names if running(str(editor.root / name))]

    assert await editor.wait_for(lambda: len(now_running()) == 1)
    buggy = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=buggy)
    assert result["applied"] is True, result
    assert len(now_running()) == 1
    for uri in uris:
        editor.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
    assert await editor.wait_for(lambda: not now_running(), timeout=15)
    await asyncio.sleep(1.0)  # a run that was waiting must not start now
    assert not now_running()


async def test_run_on_save_is_off_by_default(editor, config):
    await editor.start(config)
    uri = editor.open("calc.py", "print(1 / 0)\n")
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await asyncio.sleep(1.0)
    assert uri not in editor.client.diagnostics


async def test_settings_change_reconfigures_the_server(editor, config, fake_factory):
    other = fake_factory(models=("codellama:13b",))
    await editor.start(config)
    uri = editor.open("a.py", "x = 1\n")
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={
                "codeEvolver": {
                    "overrides": {
                        "ollama": {
                            "models": {
                                "generator": {"model": "codellama:13b", "endpoints": [other.url]}
                            }
                        }
                    }
                }
            }
        )
    )
    await asyncio.sleep(0.3)
    actions = await editor.actions(uri, 0, [_diag(0, "bad")])
    assert actions[0].title.startswith("Fix with codellama:13b:")
    status = await editor.command("codeEvolver.showStatus")
    assert other.url in status["text"]


async def test_bad_settings_are_reported_and_defaults_kept(editor, config):
    await editor.start(config, overrides={"fix": {"max_attempts": "many"}})
    assert await editor.wait_for(lambda: any("fix.max_attempts" in m for m in editor.messages()))
    message = next(m for m in editor.messages() if "fix.max_attempts" in m)
    assert "expected a whole number" in message and "built-in defaults" in message


async def test_generate_from_a_comment_and_from_plain_words(editor, fake, config):
    fake.reply_fn = lambda body: (
        "```python\ndef slugify(text):\n    return text.lower().replace(' ', '-')\n```"
        if "slug" in body.get("prompt", "")
        else "Step 1: lower-case. Step 2: replace spaces."
    )
    await editor.start(config, overrides={"generate": {"write_tests": False, "use_overseer": True}})
    source = "import os\n\n# generate: slugify text for urls\n\nprint(slugify('A B'))\n"
    uri = editor.open("slug.py", source)
    [action] = await editor.actions(uri, 2)
    assert action.title == "Generate 'slugify text for urls' with codellama"
    result = await editor.command(
        "codeEvolver.generateFunction",
        uri=uri,
        range={"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
    )
    assert result["applied"] is True, result
    assert "def slugify(text):\n    return text.lower()" in editor.texts[uri]
    assert "# generate:" not in editor.texts[uri]
    steps = [getattr(v, "message", "") or "" for v in editor.progress()]
    assert any(s.startswith("Consulting overseer llama3") for s in steps)
    assert any(s.startswith("Generating with codellama at http://127.0.0.1") for s in steps)

    words = "make a url slug from text"
    uri2 = editor.open("words.py", f"{words}\n")
    [action] = await editor.actions(uri2, 0, end=(0, len(words)))
    assert action.title == f"Generate '{words}' with codellama"


async def test_fix_all_in_file_through_resolve(editor, fake, config):
    source = "def a():\n    return 1 +\n\n\ndef b():\n    return 2\n"
    fake.replies = ["```python\ndef a():\n    return 1 + 1\n\n\ndef b():\n    return 2\n```"]
    await editor.start(config)
    uri = editor.open("two.py", source)
    actions = await editor.actions(uri, 1, [_diag(1, "Expected expression")])
    fix_all = next(a for a in actions if a.title.startswith("Fix all"))
    resolved = await editor.client.code_action_resolve_async(fix_all)
    assert resolved.edit is not None and editor.apply(resolved.edit)
    assert editor.texts[uri] == "def a():\n    return 1 + 1\n\n\ndef b():\n    return 2\n"


def _diag(line: int, message: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=0), end=types.Position(line=line, character=5)
        ),
        message=message,
        source="test",
    )


def test_tcp_mode_serves_lsp(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "code_evolver", "lsp", "--tcp", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
    )
    try:
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
            b'{"processId":null,"rootUri":null,"capabilities":{}}}'
        )
        sock = None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                time.sleep(0.1)
        assert sock is not None
        with sock:
            sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            reply = b""
            while b"codeActionProvider" not in reply:
                chunk = sock.recv(65536)
                assert chunk, "server closed the connection"
                reply += chunk
        assert b"codeEvolver.fixDiagnostics" in reply
    finally:
        proc.kill()
        proc.wait(10)
