"""What real editors do that VS Code does not, over stdio with a real LSP client (issue 13).

Eglot 1.17 resolves an action again while the answer has `data` but no edit and no command;
ALE sends back only diagnostics that carry a `code`, and never answers workspace/applyEdit.
The editor tests (test_emacs.py, test_vim_ale.py) show each in the real editor; these pin the
server's side of it, quickly.
"""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from conftest import role_config
from samples import BUGGY, FIXED_FUNCTION

STILL_BUGGY = BUGGY.split("\n\n\n")[0] + "\n"


@pytest.fixture
def config(write_config, fake):
    urls = [fake.url]
    data = role_config({"generator": urls, "overseer": urls, "evaluator": urls})
    data["fix"] = {"max_attempts": 2}
    return write_config(data)


async def saved_with_run_diagnostics(editor, config) -> tuple[str, types.Diagnostic]:
    await editor.start(config, overrides={"run_on_save": True})
    uri = editor.open("buggy.py", BUGGY)
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [found] = editor.client.diagnostics[uri]
    return uri, found


async def test_a_fix_that_finds_nothing_is_not_resolved_again(editor, fake, config):
    fake.reply = f"```python\n{STILL_BUGGY}```"
    uri, found = await saved_with_run_diagnostics(editor, config)
    [action, _] = await editor.actions(uri, 4, [found])
    assert action.data is not None and action.edit is None and action.command is None

    first = await editor.client.code_action_resolve_async(action)
    asked = fake.generate_count
    assert 1 <= asked <= 2
    # What Eglot 1.17 checks before resolving again: no edit, no command, and data.
    assert first.edit is None and first.command is None and first.data is None
    # An editor that resolves the same action for the same version anyway gets the same answer.
    again = await editor.client.code_action_resolve_async(action)
    assert again.edit is None and again.data is None
    assert fake.generate_count == asked
    said = [m for m in editor.messages() if m.startswith("No fix after 2 attempt")]
    assert len(said) >= 2  # the answer is told again, not worked out again

    # A new version is new work.
    editor.change(uri, BUGGY + "\n")
    [action, _] = await editor.actions(uri, 4, [found])
    await editor.client.code_action_resolve_async(action)
    assert fake.generate_count > asked


async def test_a_found_fix_resolved_twice_asks_the_model_once(editor, fake, config):
    fake.reply = f"```python\n{FIXED_FUNCTION}```"
    uri, found = await saved_with_run_diagnostics(editor, config)
    [action, _] = await editor.actions(uri, 4, [found])
    first = await editor.client.code_action_resolve_async(action)
    again = await editor.client.code_action_resolve_async(action)
    assert first.edit is not None and again.edit == first.edit
    assert fake.generate_count == 1


async def test_run_diagnostics_carry_the_exception_name_as_code(editor, fake, config):
    _, found = await saved_with_run_diagnostics(editor, config)
    assert found.code == "TypeError"
    assert found.message == "TypeError: object of type 'int' has no len()"


async def test_the_fix_is_offered_on_a_published_line_without_context_diagnostics(
    editor, fake, config
):
    fake.reply = f"```python\n{FIXED_FUNCTION}```"
    uri, found = await saved_with_run_diagnostics(editor, config)
    line = found.range.start.line
    titles = [a.title for a in await editor.actions(uri, line, [])]
    assert titles[0] == "Fix with codellama: TypeError: object of type 'int' has no len()"
    assert [a.title for a in await editor.actions(uri, line - 1, [])] == []  # not elsewhere
    # The action carries the published diagnostic, so the fix knows what it is fixing.
    [action, _] = await editor.actions(uri, line, [])
    resolved = await editor.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    prompt = next(r.body["prompt"] for r in fake.requests if r.path == "/api/generate")
    assert "TypeError: object of type 'int' has no len()" in prompt


async def test_a_command_whose_edit_is_never_answered_still_answers(editor, fake, config):
    """ALE applies a workspace/applyEdit and never answers it; the command must end anyway."""
    fake.reply = f"```python\n{FIXED_FUNCTION}```"
    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.text_document and capabilities.text_document.code_action
    capabilities.text_document.code_action.resolve_support = None  # as ALE: commands only
    never = asyncio.Event()

    def attach() -> None:  # instead of the harness' handler, which answers
        @editor.client.feature(types.WORKSPACE_APPLY_EDIT)
        async def apply_edit(
            params: types.ApplyWorkspaceEditParams,
        ) -> types.ApplyWorkspaceEditResult:
            editor.edits.append(params)
            await never.wait()  # no answer while the command runs
            return types.ApplyWorkspaceEditResult(applied=True)

    editor.attach = attach
    await editor.start(config, capabilities=capabilities)

    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert len(editor.edits) == 1
    assert result["applied"] is False
    assert "did not answer the edit within 10 s" in result["message"]
    assert any("did not answer the edit" in m for m in editor.messages())
    # An answer that comes after all finds its request and harms nothing.
    never.set()
    assert await editor.wait_for(lambda: not editor.client.protocol._request_futures)
    assert [a.title for a in await editor.actions(uri, 0, [])] == []


async def test_a_failed_generation_is_not_resolved_again(editor, fake, config):
    fake.reply = "I cannot write that function."  # no code, every time
    await editor.start(config, overrides={"generate": {"write_tests": False}})
    stub = 'def median(values):\n    """The middle value."""\n    pass\n'
    uri = editor.open("stats.py", stub)
    [action] = await editor.actions(uri, 0, [])
    assert action.title == "Generate median() with codellama"
    first = await editor.client.code_action_resolve_async(action)
    asked = fake.generate_count
    assert first.edit is None and first.command is None and first.data is None
    await editor.client.code_action_resolve_async(action)
    assert fake.generate_count == asked
    assert editor.texts[uri] == stub
