"""The language server end to end over stdio, with VS Code's capabilities and a real Ollama peer."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from conftest import role_config
from lsp_harness import diagnostic
from processes import running
from samples import BUGGY, FIXED, FIXED_FUNCTION

WRONG_FUNCTION = """def average(values):
    return sum(values) / 0
"""


@pytest.fixture
def two_fakes(fake_factory):
    return fake_factory(), fake_factory()


@pytest.fixture
def config_for(write_config):
    def make(*urls: str, **extra):
        data = role_config(
            {"generator": list(urls), "overseer": list(urls), "evaluator": list(urls)}
        )
        data.update(extra)
        return write_config(data)

    return make


def fence(code: str) -> str:
    return f"Here is the fixed code:\n```python\n{code}```\nThis divides by the list length."


async def test_code_actions_are_offered_without_any_model_work(editor, fake, config_for):
    await editor.start(config_for(fake.url))
    uri = editor.open(
        "buggy.py", BUGGY + '\n\ndef median(xs):\n    """Middle value."""\n    pass\n'
    )
    name_error = diagnostic(4, "NameError: name 'value' is not defined")
    fixes = await editor.actions(uri, 4, [name_error])
    titles = [a.title for a in fixes]
    assert titles == [
        "Fix with codellama: NameError: name 'value' is not defined",
        "Fix all problems in file with codellama",
    ]
    assert all(a.kind == types.CodeActionKind.QuickFix for a in fixes)
    assert all(a.edit is None and a.command is None for a in fixes)  # VS Code resolves
    stub = await editor.actions(uri, 11)
    assert [a.title for a in stub] == ["Generate median() with codellama"]
    assert stub[0].kind == types.CodeActionKind.RefactorRewrite
    assert await editor.actions(uri, 1) == []
    words = await editor.actions(uri, 7, end=(7, 5))
    assert words == []  # `print` is code, not a description
    assert fake.generate_count == 0


async def test_resolve_fixes_the_function_and_binds_the_version(editor, fake, config_for):
    fake.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config_for(fake.url))
    uri = editor.open("buggy.py", BUGGY)
    action = (await editor.actions(uri, 4, [diagnostic(4, "name 'value' is not defined")]))[0]
    resolved = await editor.client.code_action_resolve_async(action)
    assert resolved.edit is not None
    change = resolved.edit.document_changes[0]
    assert change.text_document.version == 1
    assert editor.apply(resolved.edit)
    assert editor.texts[uri] == FIXED
    prompt = fake.requests[-1].body["prompt"]
    assert "name 'value' is not defined" in prompt  # the editor's diagnostic
    assert "TypeError: object of type 'int' has no len()" in prompt  # the real run
    assert "exit code: 1" in prompt


async def test_command_fix_succeeds_on_attempt_two_with_the_first_error_in_the_prompt(
    editor, fake, config_for
):
    fake.replies = [fence(WRONG_FUNCTION), fence(FIXED_FUNCTION)]
    await editor.start(config_for(fake.url))
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command(
        "codeEvolver.fixDiagnostics",
        uri=uri,
        range={"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}},
        diagnostics=[],
    )
    assert result["applied"] is True, result
    assert editor.texts[uri] == FIXED
    generate_prompts = [r.body["prompt"] for r in fake.requests if r.path == "/api/generate"]
    assert len(generate_prompts) == 2
    assert "ZeroDivisionError" in generate_prompts[1]
    assert "sum(values) / 0" in generate_prompts[1]
    steps = [getattr(v, "message", None) for v in editor.progress()]
    assert any(s and "Attempt 1/3" in s for s in steps)
    assert any(s and s.startswith("Still has errors: ZeroDivisionError") for s in steps)
    assert any(s and "Attempt 2/3" in s for s in steps)
    kinds = [v.kind for v in editor.progress()]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert any("Fixed on attempt 2/3" in m for m in editor.messages())


async def test_fix_that_never_works_leaves_the_document_alone(editor, fake, config_for):
    fake.reply = fence(WRONG_FUNCTION)
    await editor.start(config_for(fake.url))
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is False
    assert editor.edits == []
    assert editor.texts[uri] == BUGGY
    assert fake.generate_count == 3
    assert any(
        "No fix after 3 attempt(s)" in m and "ZeroDivisionError" in m for m in editor.messages()
    )


async def test_reply_without_code_is_explained(editor, fake, config_for):
    fake.reply = "I am not sure what you mean. Could you clarify the requirements?"
    await editor.start(config_for(fake.url), overrides={"fix": {"max_attempts": 1}})
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is False
    assert any("no python code" in m.lower() for m in editor.messages())


async def test_generation_replaces_a_method_stub_with_its_indentation(editor, fake, config_for):
    source = (
        'class Stats:\n    def mean(self, xs):\n        """Return the mean of xs."""\n'
        "        raise NotImplementedError\n\n\nprint(Stats().mean([2, 4]))\n"
    )
    fake.reply_fn = lambda body: (
        'Sure!\n```python\ndef mean(self, xs):\n    """Return the mean of xs."""\n'
        "    return sum(xs) / len(xs)\n```"
        if "mean" in body.get("prompt", "")
        else "ok"
    )
    await editor.start(
        config_for(fake.url), overrides={"generate": {"write_tests": False, "use_overseer": True}}
    )
    uri = editor.open("stats.py", source)
    actions = await editor.actions(uri, 2)
    assert [a.title for a in actions] == ["Generate mean() with codellama"]
    result = await editor.command(
        "codeEvolver.generateFunction",
        uri=uri,
        range={"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
    )
    assert result["applied"] is True, result
    assert editor.texts[uri] == (
        'class Stats:\n    def mean(self, xs):\n        """Return the '
        'mean of xs."""\n        return sum(xs) / len(xs)\n\n\n'
        "print(Stats().mean([2, 4]))\n"
    )
    paths = [r.path for r in fake.requests if r.path.startswith("/api/")]
    assert paths[0] == "/api/generate"  # the overseer is consulted first
    assert fake.requests[0].body["model"] == "llama3"


async def test_cancel_mid_generation_closes_the_stream(editor, fake, config_for):
    await editor.start(config_for(fake.url), overrides={"fix": {"max_attempts": 1}})
    uri = editor.open("buggy.py", BUGGY)
    fake.fail("hang")
    task = asyncio.create_task(editor.command("codeEvolver.fixDiagnostics", uri=uri))
    assert await editor.wait_for(lambda: fake.active == 1 or len(fake.requests) > 0)
    assert await editor.wait_for(lambda: editor.client.progress_reports)
    token = next(iter(editor.client.progress_reports))
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(task, 20)
    assert result["applied"] is False
    assert fake.wait_for(lambda: fake.disconnects == 1, timeout=10)
    assert editor.texts[uri] == BUGGY


async def test_cancel_kills_the_running_program(editor, fake, config_for, tmp_path):
    pid_file = tmp_path / "pid"
    source = (
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass\n"
    )
    await editor.start(config_for(fake.url), overrides={"fix": {"run_timeout": 60}})
    uri = editor.open("spin.py", source)
    task = asyncio.create_task(editor.command("codeEvolver.fixDiagnostics", uri=uri))
    assert await editor.wait_for(pid_file.exists)
    assert await editor.wait_for(lambda: editor.client.progress_reports)
    # The pid the program wrote is its pid inside the run's PID namespace: find it on this
    # side by its command line instead.
    script = str(editor.root / "spin.py")
    assert await editor.wait_for(lambda: running(script))
    token = next(iter(editor.client.progress_reports))
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await asyncio.wait_for(task, 20)
    assert await editor.wait_for(lambda: not running(script))
    assert fake.generate_count == 0


async def test_stale_version_is_not_overwritten(editor, fake, config_for):
    fake.replies = [fence(FIXED_FUNCTION)]
    fake.latency = 1.0
    await editor.start(config_for(fake.url))
    uri = editor.open("buggy.py", BUGGY)
    task = asyncio.create_task(editor.command("codeEvolver.fixDiagnostics", uri=uri))
    assert await editor.wait_for(lambda: fake.active == 1)
    edited = BUGGY.replace("total = 0", "total = 0  # user typed this")
    editor.change(uri, edited)
    result = await asyncio.wait_for(task, 30)
    assert result["applied"] is False
    assert editor.texts[uri] == edited
    assert any("changed while Code Evolver worked" in m for m in editor.messages())


async def test_failover_to_the_second_endpoint_during_a_fix(editor, two_fakes, config_for):
    dead, alive = two_fakes
    dead.fail("status", code=500)
    alive.replies = [fence(FIXED_FUNCTION)]
    await editor.start(config_for(dead.url, alive.url))
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is True
    assert editor.texts[uri] == FIXED
    assert any(alive.url in m for m in editor.messages())
    logs = [m.message for m in editor.client.log_messages]
    assert any(dead.url in m and "failed" in m for m in logs)
    assert any("Generated" in m and alive.url in m for m in logs)


async def test_no_endpoint_reachable_is_one_clear_sentence(editor, fake, config_for):
    fake.fail("refuse")
    await editor.start(config_for(fake.url))
    uri = editor.open("buggy.py", BUGGY)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is False
    errors = [m.message for m in editor.client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1
    assert "ollama serve" in errors[0] and fake.url in errors[0]
    assert "\n" not in errors[0]


async def test_bad_requests_never_crash_the_server(editor, fake, config_for):
    await editor.start(config_for(fake.url))
    uri = editor.open("notes.txt", "\x00binary\n", language="plaintext")
    missing = (editor.root / "nope.py").as_uri()
    assert (await editor.command("codeEvolver.fixDiagnostics", uri=missing))["applied"] is False
    assert (await editor.command("codeEvolver.generateFunction", uri=uri))["applied"] is False
    assert (await editor.command("codeEvolver.generateTests"))["applied"] is False
    far = await editor.actions(uri, 10_000, [diagnostic(10_000, "x")])
    assert len(far) == 2
    assert await editor.actions(missing, 0) == []
    status = await editor.command("codeEvolver.showStatus")
    assert status["total"] == 1 and "generator: model codellama" in status["text"]
    assert any("not open in the editor" in m for m in editor.messages())


async def test_untrusted_workspace_never_runs_code(editor, fake, config_for, tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nprint(undefined_name)\n"
    fake.replies = [fence(f"open({str(marker)!r}, 'w').write('x')\nprint('defined')\n")]
    await editor.start(config_for(fake.url), trusted=False)
    uri = editor.open("script.py", source)
    result = await editor.command(
        "codeEvolver.fixDiagnostics",
        uri=uri,
        diagnostics=[
            {
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 5}},
                "message": '"undefined_name" is not defined',
                "source": "Pylance",
            }
        ],
    )
    assert result["applied"] is True
    assert not marker.exists()
    assert "undefined_name" in fake.requests[-1].body["prompt"]


async def test_generate_tests_creates_the_test_file(editor, fake, config_for):
    source = "def add(a, b):\n    return a + b\n"
    fake.reply = (
        "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3"
        "\n\n\ndef test_add_negative():\n    assert add(-1, -1) == -2\n```"
    )
    await editor.start(config_for(fake.url))
    uri = editor.open("calc.py", source)
    result = await editor.command(
        "codeEvolver.generateTests",
        uri=uri,
        range={"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
    )
    assert result["applied"] is True, result
    test_uri = (editor.root / "tests" / "test_calc.py").as_uri()
    assert "def test_add_negative" in editor.texts[test_uri]
    assert "2 passing test(s)" in result["message"]


async def test_a_config_nested_thousands_deep_is_one_message_and_the_server_goes_on(
    editor, fake, write_config
):
    path = write_config("ollama:\n  options: " + "[" * 3000 + "]" * 3000 + "\n")
    await editor.start(path)
    assert await editor.wait_for(lambda: any(str(path) in m for m in editor.messages()))
    said = [m for m in editor.messages() if str(path) in m]
    assert said == [
        f"Config problem, using built-in defaults until fixed: {path}:2: lists or mappings nest "
        "more than 50 levels deep here; a config needs a handful: flatten this value"
    ]
    uri = editor.open("buggy.py", BUGGY)
    assert await editor.actions(uri, 4, [diagnostic(4, "name 'value' is not defined")])


@pytest.mark.parametrize(
    "name, language, text, line",
    [
        ("buggy.py", "python", BUGGY.replace("print(", "label = '\ud800'\nprint("), 8),
        # Not Python: nothing compiled it first, and writing the run's file raised
        # "internal error (UnicodeEncodeError)".
        ("lone.js", "javascript", 'let s = "ok";\nlet t = "\ud800";\nfail();\n', 2),
    ],
)
async def test_a_document_holding_a_lone_surrogate_is_one_sentence_and_left_alone(
    editor, fake, config_for, name, language, text, line
):
    """JSON lets an editor send "\\ud800" alone; no UTF-8 file, run or prompt can hold it."""
    fake.reply = fence(FIXED_FUNCTION)
    await editor.start(config_for(fake.url, run={"javascript": ["cat", "{file}"]}))
    uri = editor.open(name, "", language=language)
    editor.change(uri, text)  # typed, not saved: the editor stand-in cannot write it to disk
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    column = text.splitlines()[line - 1].index("\ud800") + 1
    sentence = (
        f"{name} holds a lone surrogate (U+D800) on line {line}, column {column}, which no "
        "UTF-8 text can hold, so it cannot be run or sent to a model: delete it or type the "
        "character meant there, then try again."
    )
    assert result == {"applied": False, "message": sentence}
    assert sentence in editor.messages()
    assert editor.texts[uri] == text and editor.edits == []
    assert fake.generate_count == 0
    editor.change(uri, text.replace("\ud800", "\u00e9"))  # the server reads on
    assert await editor.actions(uri, 0, [diagnostic(0, "boom")])
