"""What the editor is told about a fix: "Fixed" for a clean run, a labelled partial otherwise."""

from __future__ import annotations

from lsprotocol import types

from conftest import role_config
from lsp_harness import diagnostic

GREET = """def greet(name):
    return "Hello, " + name + "!"


def shout(name)
    return greet(name).upper()


assert shout("Ada") == "HELLO, ADA!!"
"""
COLON_ONLY = "```python\ndef shout(name):\n    return greet(name).upper()\n```"


async def test_a_partial_fix_is_resolved_under_a_partial_title_and_said_so(
    editor, fake, write_config
):
    fake.reply = COLON_ONLY
    config = write_config({**role_config({"generator": [fake.url]}), "fix": {"max_attempts": 2}})
    await editor.start(config)
    uri = editor.open("greet.py", GREET)
    actions = await editor.actions(uri, 4, [diagnostic(4, "Expected ':'")])
    fix = next(a for a in actions if a.title.startswith("Fix with codellama"))
    resolved = await editor.client.code_action_resolve_async(fix)
    assert resolved.edit is not None
    assert resolved.title.startswith("Partial fix, not a full one: SyntaxError gone")
    assert editor.apply(resolved.edit)
    assert "def shout(name):" in editor.texts[uri]
    shown = [m for m in editor.client.messages if "Partial fix" in m.message]
    assert shown and shown[-1].type == types.MessageType.Warning
    assert not any(m.message.startswith("Fixed") for m in editor.client.messages)
