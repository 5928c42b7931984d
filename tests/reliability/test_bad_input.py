"""Bad input everywhere: config files, model replies, editor requests and documents.

Property tests feed the parsers arbitrary text; the language server gets requests no editor
should send, documents no one should open, and replies no model should give. Nothing may crash,
nothing may get worse, and every refusal says why.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from reliability_kit import errors, fence, lsp_session, send_raw, whole_range

from code_evolver import ConfigError, ConfigManager
from code_evolver.pipeline.extract import NoCodeInReply, extract_code
from code_evolver.pipeline.lines import split_lines
from code_evolver.pipeline.stubs import (
    enclosing_function,
    find_stubs,
    related_functions,
    selection_stub,
    stub_near,
)
from code_evolver.pipeline.tracebacks import error_summary, parse_python_error
from conftest import role_config
from lsp_harness import Editor, diagnostic
from samples import BUGGY, FIXED, FIXED_FUNCTION

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_SCRATCH: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    # pytest's own temporary folders: removed by pytest, also where a worker only imported this
    _SCRATCH[:] = [tmp_path_factory.mktemp("properties")]


def _scratch() -> Path:
    return _SCRATCH[0]


def _scratch_file(name: str, text: str) -> Path:
    path = _scratch() / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- config loading

CONFIG_KEYS = [
    "ollama",
    "base_url",
    "models",
    "generator",
    "overseer",
    "evaluator",
    "escalation",
    "endpoints",
    "endpoint",
    "model",
    "url",
    "headers_env",
    "key_env",
    "api",
    "strategy",
    "timeouts",
    "connect",
    "first_byte",
    "idle",
    "total",
    "cooldown",
    "base",
    "max",
    "options",
    "temperature",
    "num_ctx",
    "stop",
    "keep_alive",
    "fix",
    "max_attempts",
    "run_timeout",
    "output_limit",
    "memory_limit_mb",
    "generate",
    "related_functions",
    "use_overseer",
    "write_tests",
    "use_evaluator",
    "run",
    "python",
    "test_command",
    "run_on_save",
    "strip_secrets",
    "max_prompt_chars",
    "max_output_chars",
    "model_missing",
]
YAML_PIECES = [
    *(f"{k}:" for k in CONFIG_KEYS),
    "\n",
    "  ",
    "    ",
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "!!python/object:os.system ",
    "!!binary ",
    "!!set ",
    "!!timestamp ",
    "<<: ",
    "2001-13-45",
    "2001-02-03",
    "http://127.0.0.1:11434",
    "http://[::1",
    "http://h:99999",
    "ftp://x",
    ".nan",
    ".inf",
    "-.inf",
    "1e400",
    "1" + "0" * 400,
    "-1",
    "0",
    "3",
    "0.5",
    "true",
    "no",
    "null",
    "~",
    "'",
    '"',
    "#",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "? ",
    "|\n",
    ">\n",
    "\t",
    "\x00",
    "\ufeff",
    "é",
    "\u2028",
    "{python}",
    "{file}",
]
yaml_text = st.lists(st.one_of(st.sampled_from(YAML_PIECES), st.text(max_size=6)), max_size=40).map(
    "".join
)


def _load_config(text: str) -> None:
    path = _scratch_file("config.yaml", text)
    try:
        ConfigManager(path)
    except ConfigError as error:
        assert str(error).startswith(str(path))  # it names the file


# Found by these properties and fixed: a bad date or IPv6 host, unknown tags, merge keys, a
# recursive alias and a huge number each raised something other than ConfigError.


@PROPERTY
@given(yaml_text)
@example("ollama:\n  base_url: 2001-13-45\n")
@example("a: &a [*a]\n")
@example("ollama: !!python/object:os.system x\n")
@example("fix:\n  run_timeout: 1" + "0" * 400 + "\n")
@example("ollama:\n  base_url: 'http://[::1'\n")
@example("!!timestamp \n")
@example("ollama:\n  options: " + "[" * 3000 + "]" * 3000 + "\n")  # was a RecursionError
@example("fix:\n" + "".join("  " * (i + 1) + "-\n" for i in range(3000)))
def test_config_from_any_yaml_text_raises_only_config_error(text: str) -> None:
    _load_config(text)


def _config_values(children: Any) -> Any:
    return st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=5), children, max_size=4),
    )


config_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "http://127.0.0.1:11434",
            "http://[::1",
            "localhost:11434",
            "http://h:0",
            "https://h:65536",
            "round_robin",
            "least_busy",
            "openai",
            "{python}",
            "{file}",
            "10m",
            "MY_TOKEN",
        ]
    ),
)
config_data = st.dictionaries(
    st.sampled_from(CONFIG_KEYS),
    st.recursive(config_scalars, _config_values, max_leaves=20),
    max_size=6,
)


@PROPERTY
@given(config_data)
@example({"ollama": {"base_url": "http://[::1"}})
@example({"fix": {"run_timeout": 10**400}})
@example({"ollama": {"models": {"generator": {"endpoints": ["http://[x"]}}}})
def test_config_from_any_nested_mapping_raises_only_config_error(data: dict[str, Any]) -> None:
    _load_config(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize(
    "text",
    [
        "fix:\n  run_timeout: .nan\n",
        "ollama:\n  timeouts:\n    first_byte: .nan\n",
        "ollama:\n  options:\n    temperature: .nan\n",
    ],
)
def test_a_nan_number_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"number|nan"):
        ConfigManager(_scratch_file("nan.yaml", text))


# ---------------------------------------------------------------- model replies and code

REPLY_PIECES = [
    "```",
    "```python\n",
    "```py\n",
    "```javascript\n",
    "```rust\n",
    "~~~\n",
    "\n",
    "\r\n",
    "\r",
    "    ",
    "\t",
    "def average(values):\n",
    "def f(x):",
    "    return x\n",
    "        total +=",
    "class A:\n",
    "[PYTHON]",
    "[/PYTHON]",
    "<code>",
    "</code>",
    "&lt;",
    "pass\n",
    "...",
    "'''",
    '"""',
    "# generate: add\n",
    "@decorator\n",
    "async def g():\n",
    "(",
    ")",
    ":",
    "\x00",
    "\x0c",
    "if x:\n",
    "else:\n",
    "\\\n",
    "lambda: 1",
    "Sure! Here is the code:\n",
    "import os\n",
    "\u2028",
    "\x85",
    "\ufeff",
    "x = " + "-" * 3000 + "1\n",
    "y = " + "1+" * 3000 + "1\n",
    "Explanation\n",
]
reply_text = st.lists(
    st.one_of(st.sampled_from(REPLY_PIECES), st.text(max_size=8)), max_size=40
).map("".join)


@PROPERTY
@given(
    reply_text,
    st.sampled_from(["python", "py", "Python ", "rust", "javascript", ""]),
    st.one_of(st.none(), reply_text),
)
@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # random text parsed as Python
def test_extract_code_raises_only_no_code_in_reply(
    reply: str, language: str, original: str | None
) -> None:
    try:
        code = extract_code(reply, language, original=original)
    except NoCodeInReply as error:
        assert str(error).startswith(
            ("The model's reply contained no", "The model's python code does not parse")
        )
        return
    lines = split_lines(code)
    assert code.strip() and lines[0].strip() and lines[-1].strip()


SOURCE_PIECES = [
    "def f(x):\n",
    "    return x\n",
    "    pass\n",
    "    ...\n",
    '    """Doc."""\n',
    "    raise NotImplementedError\n",
    "class A:\n",
    "    def m(self):\n",
    "        pass\n",
    "async def g(a, *b, c=1, **d) -> int:\n",
    "@dec\n",
    "# generate: a function that adds\n",
    "x = '''\n# generate: no\n'''\n",
    "if True:\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "(",
    ")",
    ":",
    "\x00",
    "\x0c",
    "\ufeff",
    "def deep(x=" + "1+" * 900 + "1):\n",
    "def n(x=" + "-" * 900 + "1):\n",
    "def t[T](x: T) -> T:\n",
    "match x:\n    case 1:\n        pass\n",
]
source_text = st.lists(
    st.one_of(st.sampled_from(SOURCE_PIECES), st.text(max_size=6)), max_size=30
).map("".join)
position = st.integers(min_value=-3, max_value=60)


@PROPERTY
@given(source_text, position, position, position, position)
@example("def deep(x=" + "1+" * 900 + "1):\n    pass\n", 0, 0, 1, 0)  # ast.unparse recursion
def test_stub_detection_never_raises(
    source: str, line: int, char: int, end_line: int, end_char: int
) -> None:
    count = max(len(split_lines(source)), 1)
    for stub in find_stubs(source):
        assert 0 <= stub.start_line <= stub.end_line < count
    selected = selection_stub(source, line, char, end_line, end_char)
    if line >= count:
        assert selected is None  # a selection wholly past the end selects nothing
    elif selected is not None:
        assert 0 <= selected.start_line <= selected.end_line < count
    span = enclosing_function(source, line)
    if span is not None:
        assert 0 <= span[0] <= line <= span[1] < count
    near = stub_near(source, line)
    if near is not None:
        assert 0 <= near.start_line <= line <= near.end_line < count
        assert near == stub_near(split_lines(source), line)
    related_functions({"a.py": source}, "add two numbers function", limit=3)


TRACE_PIECES = [
    "Traceback (most recent call last):\n",
    '  File "',
    '", line ',
    "\n",
    "ZeroDivisionError: division by zero\n",
    "E   ",
    "E       assert 1 == 2\n",
    ":12: ",
    ": AssertionError\n",
    "FAILED tests/test_t.py::test_a - boom\n",
    "Exception Group Traceback (most recent call last):\n",
    "  | ",
    "  +-+---",
    "ValueError\n",
    "SyntaxError: invalid syntax\n",
    "    ^^^^\n",
    "t.py",
    "tests/t.py",
    "/elsewhere/t.py",
    "1",
    "5",
    "7",
    "0",
    "99999",
    "123456789",
    "During handling of the above exception, another exception occurred:\n",
]


@PROPERTY
@given(
    st.lists(st.one_of(st.sampled_from(TRACE_PIECES), st.text(max_size=6)), max_size=40),
    st.integers(min_value=0, max_value=12),
    st.booleans(),
)
@example(['  File "', "TARGET", '", line ', "99999", "\n", "ValueError\n"], 3, True)
def test_traceback_mapping_never_raises_and_stays_in_the_file(
    pieces: list[str], length: int, alias: bool
) -> None:
    target = _scratch_file("t.py", "x = 1\n" * length)
    copy = _scratch() / "copy" / "t.py"
    path = str(copy if alias else target)
    stderr = "".join(
        path if p == "TARGET" else p.replace("t.py", path, 1) if p == "t.py" else p for p in pieces
    )
    # The copy is the target as it was run, or absent: an earlier example's copy of another
    # length left in place would be a second file the frames could be measured against.
    if alias:
        copy.parent.mkdir(exist_ok=True)
        copy.write_text("x = 1\n" * length, encoding="utf-8")
    else:
        copy.unlink(missing_ok=True)
    found = parse_python_error(stderr, str(target), aliases=[str(copy)])
    if found is not None and found.line is not None:
        assert 0 <= found.line < max(length, 1)
        assert found.path == str(target)
    assert len(error_summary(stderr, 80)) <= 80


# ---------------------------------------------------------------- the language server


@pytest.fixture
def config(fake, write_config) -> Path:
    return write_config(
        role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    )


def _open_unwritten(editor: Editor, name: str, text: str, language: str = "python") -> str:
    """Open a document the editor has in memory only (no file on disk)."""
    uri = (editor.root / name).as_uri()
    editor.texts[uri], editor.versions[uri] = text, 1
    editor.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri


def _no_internal_errors(editor: Editor) -> None:
    assert not [m for m in editor.messages() if "internal error" in m]


def _range(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {
        "start": {"line": start[0], "character": start[1]},
        "end": {"line": end[0], "character": end[1]},
    }


async def test_positions_past_the_end_and_negative_ones(tmp_path: Path, fake, config) -> None:
    fake.reply = fence(FIXED_FUNCTION)
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("buggy.py", BUGGY)
        far = await editor.actions(
            uri, 50_000, [diagnostic(50_000, "far away")], end=(60_000, 9_999), start_char=9_999
        )
        assert [a.kind for a in far] == [types.CodeActionKind.QuickFix] * 2
        # Commands take free-form arguments, so negative and huge positions reach the server.
        for where in (
            _range((-5, -1), (-2, -7)),
            _range((10_000, 0), (20_000, 5)),
            _range((3, 10), (1, 0)),
        ):
            generated = await editor.command("codeEvolver.generateFunction", uri=uri, range=where)
            assert generated["applied"] is False
            assert (
                "Nothing to generate here" in generated["message"]
                or "Nothing to generate here" in editor.messages()[-1]
            )
            if where["start"]["line"] < 0 or where["start"]["line"] > 100:
                tests = await editor.command("codeEvolver.generateTests", uri=uri, range=where)
                assert tests["applied"] is False
                assert "Put the cursor inside a function" in tests["message"]
        odd = {"range": _range((-4, -4), (-1, 0)), "message": "negative", "source": "x"}
        fixed = await editor.command(
            "codeEvolver.fixDiagnostics",
            uri=uri,
            range=_range((-1, 0), (-1, 0)),
            diagnostics=[odd, {"message": 42}, "not a diagnostic", None],
        )
        assert fixed["applied"] is True and editor.texts[uri] == FIXED
        _no_internal_errors(editor)
        assert (editor.root / "buggy.py").read_text() == BUGGY


async def test_a_code_action_with_negative_positions_is_answered(tmp_path: Path, config) -> None:
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("buggy.py", BUGGY)
        raw = {
            "textDocument": {"uri": uri},
            "range": _range((-1, -5), (-1, 0)),
            "context": {"diagnostics": [{"range": _range((-3, 0), (2, 1)), "message": "negative"}]},
        }
        answer = send_raw(editor, "negative-1", "textDocument/codeAction", raw)
        # The server is still responsive meanwhile.
        assert await asyncio.wait_for(editor.actions(uri, 0), 30) == []
        done, _ = await asyncio.wait([answer], timeout=2)
        assert done, "no response to the request"


async def test_unknown_commands_and_commands_without_arguments_are_answered(
    tmp_path: Path, config
) -> None:
    async with lsp_session(tmp_path / "ws", config) as editor:
        with pytest.raises(Exception, match=r"codeEvolver\.noSuchCommand"):
            await editor.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="codeEvolver.noSuchCommand")
            )
        for arguments in (None, [], ["not a mapping"]):
            result = await editor.client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="codeEvolver.fixDiagnostics", arguments=arguments
                )
            )
            assert result["applied"] is False
            assert "No document was given" in result["message"], (arguments, result)


async def test_unknown_closed_binary_and_non_utf8_documents(tmp_path: Path, fake, config) -> None:
    fake.reply = fence(FIXED_FUNCTION)
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        unknown = (editor.root / "never_opened.py").as_uri()
        for command in (
            "codeEvolver.fixDiagnostics",
            "codeEvolver.generateFunction",
            "codeEvolver.generateTests",
        ):
            result = await editor.command(command, uri=unknown, range=whole_range(0))
            assert result["applied"] is False
            assert (
                errors(editor)[-1] == f"{unknown} is not open in the editor; open it and try again."
            )
            result = await editor.command(command, uri=42)
            assert result["applied"] is False
        assert await editor.actions(unknown, 0, [diagnostic(0, "x")]) == []
        closed = editor.open("closed.py", BUGGY)
        editor.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=closed))
        )
        assert (await editor.command("codeEvolver.fixDiagnostics", uri=closed))["applied"] is False
        assert errors(editor)[-1].endswith("is not open in the editor; open it and try again.")
        assert await editor.actions(closed, 4, [diagnostic(4, "x")]) == []
        binary = _open_unwritten(editor, "blob.py", "\x00\x01\x02ELF\xff\xfe" * 100)
        result = await editor.command("codeEvolver.fixDiagnostics", uri=binary)
        assert result["applied"] is False
        assert errors(editor)[-1] == "blob.py looks like a binary file; nothing to do."
        assert len(await editor.actions(binary, 0, [diagnostic(0, "x")])) == 2
        # Lone surrogates: text that is not UTF-8 and cannot be written out as UTF-8.
        odd = BUGGY.replace("print(average", "print('\udcff\ud800', average")
        surrogates = _open_unwritten(
            editor, "odd.py", odd.replace("total = 0", "total = 0  # \udcfe")
        )
        asked = fake.generate_count
        result = await editor.command(
            "codeEvolver.fixDiagnostics",
            uri=surrogates,
            diagnostics=[
                {"range": _range((4, 0), (4, 9)), "message": "name 'value' is not defined"}
            ],
        )
        # One sentence naming the first one; no model is asked to "fix" a file no run can hold.
        assert result["applied"] is False and fake.generate_count == asked
        assert editor.messages()[-1].startswith(
            "odd.py holds a lone surrogate (U+DCFE) on line 2, column 18, which no UTF-8 text"
        )
        assert editor.texts[surrogates].count("\udcff") == 1
        await editor.actions(surrogates, 0)
        # Bytes that are not UTF-8 on the wire: that message is lost, the server lives on.
        body = (
            b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": '
            b'{"textDocument": {"uri": "file:///x.py", "languageId": "python", '
            b'"version": 1, "text": "\xff\xfe\xc3("}}}'
        )
        sent = editor.client.protocol.writer.write(
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        if inspect.isawaitable(sent):
            await sent
        assert len(await editor.actions(surrogates, 4, [diagnostic(4, "x")])) == 2
        _no_internal_errors(editor)


def _big_module(size: int, tail: str) -> str:
    block = 'def f{i}(x):\n    """Add {i}."""\n    return x + {i}  # step\n\n\n'
    parts, total, i = [], 0, 0
    while total < size:
        part = block.format(i=i)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts) + tail


async def test_a_ten_megabyte_document_still_gets_code_actions(
    tmp_path: Path, fake, config
) -> None:
    stub = 'def median(xs):\n    """The middle value of xs."""\n    pass\n'
    text = _big_module(10 * 1024 * 1024, stub)
    last = len(split_lines(text)) - 2
    async with lsp_session(tmp_path / "ws", config) as editor:
        big = _open_unwritten(editor, "big.py", text)
        small = editor.open("small.py", BUGGY)
        generate, fixes = await asyncio.wait_for(
            asyncio.gather(
                editor.actions(big, last),
                editor.actions(big, 2, [diagnostic(2, "something is wrong")]),
            ),
            120,
        )
        assert [a.title for a in generate] == ["Generate median() with codellama"]
        assert len(fixes) == 2
        assert len(await editor.actions(small, 4, [diagnostic(4, "x")])) == 2
        assert fake.generate_count == 0


RUST = 'fn main() {\n    let x: i32 = "one";\n    println!("{}", x);\n}\n'
RUST_FIXED = 'fn main() {\n    let x: i32 = 1;\n    println!("{}", x);\n}\n'
RUST_DIAGNOSTIC = {
    "range": _range((1, 17), (1, 22)),
    "message": "mismatched types: expected `i32`, found `&str`",
    "source": "rustc",
    "code": "E0308",
}


async def test_a_language_without_a_run_command_is_fixed_from_diagnostics(
    tmp_path: Path, fake, config
) -> None:
    fake.reply = fence(RUST_FIXED, "rust")
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("main.rs", RUST, language="rust")
        result = await editor.command(
            "codeEvolver.fixDiagnostics", uri=uri, diagnostics=[RUST_DIAGNOSTIC]
        )
        assert result["applied"] is True and editor.texts[uri] == RUST_FIXED
        prompt = fake.requests[-1].body["prompt"]
        assert "mismatched types" in prompt and "```rust" in prompt
        assert "Running the code gave" not in prompt
        assert (editor.root / "main.rs").read_text() == RUST


async def test_a_language_without_a_run_command_says_running_is_not_available(
    tmp_path: Path, fake, config
) -> None:
    fake.reply = fence(RUST_FIXED, "rust")
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("main.rs", RUST, language="rust")
        with_diagnostics = await editor.command(
            "codeEvolver.fixDiagnostics", uri=uri, diagnostics=[RUST_DIAGNOSTIC]
        )
        other = editor.open("other.rs", RUST, language="rust")
        without = await editor.command("codeEvolver.fixDiagnostics", uri=other)
        assert "runs without errors" not in without["message"]
        for message in (with_diagnostics["message"], without["message"]):
            assert "not available" in message or "cannot run" in message, message


# ---------------------------------------------------------------- model replies

WHOLE_FILE_REPLY = fence(FIXED)
REPLIES: dict[str, tuple[str, bool, str]] = {
    # name: (reply, applied, what the message says)
    "empty": ("", False, "the model's reply was empty"),
    "prose only": (
        "The bug is that `value` should be `values` in the last line.",
        False,
        "the model's reply contained no python code",
    ),
    "wrong language": (
        fence("function average(values) {\n  return 0;\n}\n", "javascript"),
        False,
        "no python code",
    ),
    "fence never closed": ("```python\n" + FIXED_FUNCTION, True, "Fixed on attempt 1/1"),
    "fence never closed, then prose": (
        "```python\n" + FIXED_FUNCTION + "\nThis divides by the list's length.\n",
        False,
        "SyntaxError",
    ),
    "fence never closed, cut off": (
        "```python\ndef average(values):\n    total = 0\n    for value in",
        False,
        "SyntaxError",
    ),
    "no fence, cut off": (
        "def average(values):\n    total = 0\n    for value in values:\n        total +=",
        False,
        "cut off",
    ),
    "no fence, broken further down": (
        "def average(values):\n    total = 0\n"
        "    for value in values\n        total += value\n"
        "    return total / len(values)\n",
        False,
        "the model's reply contained no complete python code",
    ),
    "the whole file": (WHOLE_FILE_REPLY, True, "Fixed on attempt 1/1"),
    "the original bug unchanged": (
        fence(BUGGY.split("\n\n\n")[0] + "\n"),
        False,
        "returned the code unchanged",
    ),
    "a new error instead": (
        fence("def average(values):\n    return sum(values) / 0\n"),
        False,
        "ZeroDivisionError",
    ),
    "a syntax error": (
        fence("def average(values):\n    return sum(values) /\n"),
        False,
        "SyntaxError",
    ),
    "a hang": (
        fence("def average(values):\n    while True:\n        pass\n    return 0.0\n"),
        False,
        "CPU time",
    ),
    "a hollow body": (
        fence("def average(values):\n    while True:\n        pass\n"),
        False,
        "average() no longer returns a value",
    ),
}


async def test_bad_replies_never_make_it_worse_and_say_why(tmp_path: Path, fake, config) -> None:
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1, "run_timeout": 1}}
    ) as editor:
        for number, (name, (reply, applied, says)) in enumerate(REPLIES.items()):
            fake.reply = reply
            uri = editor.open(f"case{number}.py", BUGGY)
            edits = len(editor.edits)
            result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
            assert result["applied"] is applied, (name, result)
            assert says in result["message"], (name, result)
            assert (editor.root / f"case{number}.py").read_text() == BUGGY, name
            if applied:
                assert editor.texts[uri] == FIXED, name
                [edit] = editor.edits[edits].edit.document_changes[0].edits
                assert edit.range.start.line == 0 and edit.range.end.line == 5, name
            else:
                assert editor.texts[uri] == BUGGY and len(editor.edits) == edits, name
        _no_internal_errors(editor)


TWO_FUNCTIONS = """def total(values):
    return sum(values)


def average(values)
    return total(values) / len(values)


print(average([1, 2, 3]))
"""


async def test_a_partial_reply_to_a_broken_file_loses_nothing(tmp_path: Path, fake, config) -> None:
    fake.reply = fence("def average(values):\n    return total(values) / len(values)\n")
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("stats.py", TWO_FUNCTIONS)
        await editor.command("codeEvolver.fixDiagnostics", uri=uri)
        assert "def total(values):" in editor.texts[uri]
        assert "print(average([1, 2, 3]))" in editor.texts[uri]


@pytest.mark.parametrize("expression", ["-" * 10_000 + "1", "1+" * 30_000 + "1"])
async def test_a_reply_nested_too_deeply_is_just_a_failed_attempt(
    tmp_path: Path, fake, config, expression: str
) -> None:
    fake.reply = fence(f"def average(values):\n    return {expression}\n")
    async with lsp_session(
        tmp_path / "ws",
        config,
        overrides={"fix": {"max_attempts": 1}, "max_output_chars": 10_000_000},
    ) as editor:
        uri = editor.open("buggy.py", BUGGY)
        result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
        assert result["applied"] is False
        _no_internal_errors(editor)
        assert "No fix after 1 attempt(s)" in result["message"]


async def test_without_running_a_reply_without_the_function_is_not_applied(
    tmp_path: Path, fake, config
) -> None:
    fake.reply = fence("def mean(xs):\n    return 0\n")
    async with lsp_session(
        tmp_path / "ws", config, trusted=False, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("buggy.py", BUGGY)
        result = await editor.command(
            "codeEvolver.fixDiagnostics",
            uri=uri,
            diagnostics=[
                {"range": _range((4, 0), (4, 9)), "message": "name 'value' is not defined"}
            ],
        )
        assert result["applied"] is False and editor.texts[uri] == BUGGY
        assert "average()" in result["message"]


def test_an_alias_bomb_is_a_config_error_not_a_hang(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "code_evolver", "status", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    assert done.returncode == 2 and str(path) in done.stderr
