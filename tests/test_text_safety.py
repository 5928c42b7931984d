"""No answer loses or misplaces the user's text: versions, position encodings, line ends, and
code the server does not run, end to end over stdio (issue 13)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from conftest import role_config
from lsp_harness import Editor, diagnostic, position
from samples import BUGGY, FIXED, FIXED_FUNCTION

TYPED = "# a note the user typed while the fix ran\n"


@pytest.fixture
def config(fake, write_config):
    return write_config(
        role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    )


def fence(code: str, language: str = "python") -> str:
    return f"Here you go:\n```{language}\n{code}```\nDone."


def capabilities(
    *, document_changes: bool = True, encodings: list[str] | None = None
) -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    assert caps.workspace and caps.workspace.workspace_edit and caps.general
    caps.workspace.workspace_edit.document_changes = document_changes
    if encodings is not None:
        caps.general.position_encodings = encodings
    return caps


async def held_reply(editor: Editor, fake, start) -> asyncio.Task:
    """Start work whose model request is held until `fake.fail(None)`."""
    fake.fail("hang")
    task = asyncio.create_task(start())
    assert await editor.wait_for(lambda: any(r.path == "/api/generate" for r in fake.requests))
    return task


def fixed_messages(editor: Editor) -> list[str]:
    return [m for m in editor.messages() if m.startswith("Fixed")]


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize("document_changes", [False, True])
async def test_resolve_moves_the_fix_below_a_line_typed_meanwhile(
    editor, fake, config, document_changes
):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config, capabilities=capabilities(document_changes=document_changes))
    uri = editor.open("buggy.py", BUGGY)
    [action, _] = await editor.actions(uri, 4, [diagnostic(4, "name 'value' is not defined")])
    task = await held_reply(editor, fake, lambda: editor.client.code_action_resolve_async(action))
    editor.type_text(uri, 0, 0, TYPED)
    fake.fail(None)
    resolved = await asyncio.wait_for(task, 30)
    assert resolved.edit is not None
    if document_changes:
        assert resolved.edit.document_changes[0].text_document.version == editor.versions[uri]
    assert editor.apply(resolved.edit)
    assert editor.texts[uri] == TYPED + FIXED
    assert len(fixed_messages(editor)) == 1


async def test_resolve_refuses_when_the_fixed_lines_changed(editor, fake, config):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config, capabilities=capabilities(document_changes=False))
    uri = editor.open("buggy.py", BUGGY)
    [action, _] = await editor.actions(uri, 4, [diagnostic(4, "name 'value' is not defined")])
    task = await held_reply(editor, fake, lambda: editor.client.code_action_resolve_async(action))
    at = BUGGY.index("total = 0") + len("total = 0")
    editor.type_text(uri, at, at, "  # mine")
    fake.fail(None)
    resolved = await asyncio.wait_for(task, 30)
    assert resolved.edit is None
    assert "# mine" in editor.texts[uri]
    assert fixed_messages(editor) == []
    assert sum("changed while Code Evolver worked" in m for m in editor.messages()) == 1


@pytest.mark.parametrize("inside", [True, False])
async def test_command_moves_the_fix_or_says_one_thing(editor, fake, config, inside):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config)
    uri = editor.open("buggy.py", BUGGY)
    task = await held_reply(
        editor, fake, lambda: editor.command("codeEvolver.fixDiagnostics", uri=uri)
    )
    at = BUGGY.index("total = 0") + len("total = 0") if inside else 0
    editor.type_text(uri, at, at, "  # mine" if inside else TYPED)
    fake.fail(None)
    result = await asyncio.wait_for(task, 30)
    if inside:
        assert result["applied"] is False
        assert "changed while Code Evolver worked" in result["message"]
        assert fixed_messages(editor) == []
        assert sum("changed while Code Evolver worked" in m for m in editor.messages()) == 1
    else:
        assert result["applied"] is True, result
        assert editor.texts[uri] == TYPED + FIXED
        assert len(fixed_messages(editor)) == 1


async def test_fixed_is_said_only_when_the_editor_applies_the_edit(editor, fake, config):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config)
    editor.apply = lambda edit: False  # an editor that refuses every edit
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is False
    assert fixed_messages(editor) == []
    assert any("refused the edit" in m for m in editor.messages())


async def test_generate_tests_keeps_what_the_user_typed_in_the_test_file(editor, fake, config):
    old_tests = "from calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    new_test = "def test_add():\n    assert add(1, 2) == 3\n"
    fake.reply = f"```python\nfrom calc import add\n\n\n{new_test}```"
    await editor.start(config)
    uri = editor.open("calc.py", "def add(a, b):\n    return a + b\n")
    test_uri = editor.open("tests/test_calc.py", old_tests)
    task = await held_reply(
        editor,
        fake,
        lambda: editor.command(
            "codeEvolver.generateTests",
            uri=uri,
            range={"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
        ),
    )
    editor.type_text(test_uri, 0, 0, "import math\n")
    fake.fail(None)
    result = await asyncio.wait_for(task, 60)
    assert result["applied"] is True, result
    text = editor.texts[test_uri]
    assert text.startswith("import math\n" + old_tests)
    assert "def test_add" in text


async def test_run_diagnostics_land_on_the_line_after_typing(editor, config, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    source = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.02)\n"
        "print(1 / 0)\n"
    )
    await editor.start(config, overrides={"run_on_save": True})
    uri = editor.open("calc.py", source)
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await editor.wait_for(started.exists)
    editor.type_text(uri, 0, 0, "# typed\n# while it ran\n")
    go.touch()
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    assert found.message.startswith("ZeroDivisionError")
    assert found.range.start.line == 6  # line 4 of the saved text, two lines further down
    assert found.range.end.character == len("print(1 / 0)")


# ---------------------------------------------------------------- positions


SHOUT = 'def shout(s):\n    """Loud 😀."""\n    return s.uper() + "😀"'
SHOUT_FIXED = 'def shout(s):\n    """Loud 😀."""\n    return s.upper() + "😀"\n'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
async def test_edits_are_measured_in_the_negotiated_encoding(editor, fake, config, encoding):
    fake.replies = [fence(SHOUT_FIXED)]
    await editor.start(config, capabilities=capabilities(encodings=[encoding]))
    assert editor.encoding == encoding
    uri = editor.open("shout.py", SHOUT)
    found = diagnostic(2, 'Cannot access attribute "uper" for class "str"')
    [action, _] = await editor.actions(uri, 2, [found])
    resolved = await editor.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    assert editor.apply(resolved.edit)
    assert editor.texts[uri] == SHOUT_FIXED.removesuffix("\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
async def test_a_selection_after_an_emoji_keeps_every_character(editor, fake, config, encoding):
    fake.reply = "ok"
    await editor.start(
        config,
        capabilities=capabilities(encodings=[encoding]),
        overrides={"generate": {"write_tests": False}, "fix": {"max_attempts": 1}},
    )
    line = "# 😀 return the largest of three numbers"
    uri = editor.open("pick.py", line + "\n")
    start = position(line, line.index("return"), encoding)
    end = position(line, len(line), encoding)
    actions = await editor.actions(uri, 0, end=(0, end.character), start_char=start.character)
    assert [a.title for a in actions] == [
        "Generate 'return the largest of three numbers' with codellama"
    ]
    await editor.command(
        "codeEvolver.generateFunction",
        uri=uri,
        range={
            "start": {"line": 0, "character": start.character},
            "end": {"line": 0, "character": end.character},
        },
    )
    prompts = [r.body.get("prompt", "") for r in fake.requests if r.path == "/api/generate"]
    assert prompts and "return the largest of three numbers" in prompts[0]


# ---------------------------------------------------------------- lines


@pytest.mark.parametrize(
    "above", ["BANNER = 'x\u2028y'\n", "# page one\x0c\n", "SEP = '\x1c\x1d\x1e\x85'\n\n\n"]
)
async def test_odd_characters_above_the_function_do_not_move_it(editor, fake, config, above):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config)
    uri = editor.open("buggy.py", above + BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is True, result
    assert editor.texts[uri] == above + FIXED


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
async def test_a_fix_keeps_the_files_line_ending(editor, fake, config, ending):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config)
    uri = editor.open("buggy.py", BUGGY.replace("\n", ending))
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is True, result
    assert editor.texts[uri] == FIXED.replace("\n", ending)


# ---------------------------------------------------------------- code the server does not run


JS = """import { readFileSync } from "fs";

function first(xs) {
  return xs[0];
}

function total(xs) {
  let sum = 0;
  for (const x of xs) sum += y;
  return sum;
}

function last(xs) {
  return xs[xs.length - 1];
}
"""
TOTAL_FIXED = """function total(xs) {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum;
}
"""


@pytest.mark.parametrize("fence_name", ["js", "javascript", "JavaScript", ""])
@pytest.mark.parametrize("which", [0, 1])  # the function's fix, or the whole file's
async def test_a_javascript_fix_replaces_only_its_function(editor, fake, config, fence_name, which):
    fake.replies = [fence(TOTAL_FIXED, fence_name)]
    await editor.start(config)
    uri = editor.open("calc.js", JS, language="javascript")
    eslint = diagnostic(8, "'y' is not defined.", source="eslint")
    action = (await editor.actions(uri, 8, [eslint]))[which]
    resolved = await editor.client.code_action_resolve_async(action)
    assert resolved.edit is not None, editor.messages()
    assert editor.apply(resolved.edit)
    assert editor.texts[uri] == JS.replace("sum += y", "sum += x")
    assert any("not verified by running" in m for m in editor.messages())


async def test_a_whole_file_reply_that_drops_functions_is_refused(editor, fake, config):
    shorter = JS.split("function last")[0].replace("sum += y", "sum += x")
    fake.reply = fence(shorter + "console.log(total([1, 2]));\n", "js")
    await editor.start(config, overrides={"fix": {"max_attempts": 1}})
    uri = editor.open("calc.js", JS, language="javascript")
    result = await editor.command(
        "codeEvolver.fixDiagnostics",
        uri=uri,
        all=True,
        diagnostics=[
            {
                "range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 9}},
                "message": "'y' is not defined.",
                "source": "eslint",
            }
        ],
    )
    assert result["applied"] is False
    assert editor.texts[uri] == JS
    assert any("left out last()" in m for m in editor.messages())


def test_the_harness_reads_positions_as_an_lsp_client(tmp_path: Path) -> None:
    text = "a😀b\r\nc\u2028d\re"
    assert position(text, text.index("b"), "utf-8").character == 5
    assert position(text, text.index("b"), "utf-16").character == 3
    assert position(text, text.index("d"), "utf-32") == types.Position(line=1, character=2)
