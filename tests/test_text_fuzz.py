"""Random documents, random typing while a fix runs, all three position encodings: after every
answer the user's text outside the fixed function is exactly what they had (issue 13)."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import role_config
from lsp_harness import Editor, diagnostic
from samples import BUGGY, FIXED_FUNCTION
from test_text_safety import capabilities, fence

FUNCTION_LINES = BUGGY.split("\n\n\n")[0].split("\n")  # def average ... return total / len(value)
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
# What may stand in a comment or a string: tabs, non-BMP characters, line-like characters that
# are no LSP line end, accents.
CHARS = st.sampled_from(
    ["a", "Z", " ", "\t", "😀", "\U0001d518", "\u2028", "\u2029", "\x0c", "\x85", "é"]
)
WORDS = st.lists(CHARS, max_size=12).map("".join)
FILLER = st.one_of(
    WORDS.map(lambda w: f"# {w}"),
    WORDS.map(lambda w: f"NOTE = '{w}'"),
    st.just(""),
    st.just("\x0c"),
)
TYPED = st.lists(st.one_of(CHARS, ENDINGS), max_size=6).map("".join)


@dataclass(frozen=True)
class Typing:
    at: float  # where, as a share of the text
    delete: int  # how many characters it replaces
    text: str
    in_function: bool  # aimed into the function's lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    def block(lines: list[str]) -> str:
        return "".join(line + draw(ENDINGS) for line in lines)

    above = draw(st.lists(FILLER, max_size=6))
    below = draw(st.lists(FILLER, max_size=4))
    return (
        block(above)
        + block(["", *FUNCTION_LINES, "", ""])
        + block([*below, "print(average([1, 2, 3]))"])
    )


typings = st.builds(Typing, st.floats(0, 1), st.integers(0, 3), TYPED, st.booleans())


def function_span(text: str) -> tuple[int, int] | None:
    """Where the buggy function's lines are in `text`, if they are still all there."""
    start = text.find("\n".join(FUNCTION_LINES[:1]))
    last = text.find(FUNCTION_LINES[-1], max(start, 0))
    if start < 0 or last < 0:
        return None
    return start, last + len(FUNCTION_LINES[-1])


def place(text: str, typing: Typing) -> tuple[int, int]:
    """A code-point range to type over, never inside a \\r\\n pair."""
    span = function_span(text) if typing.in_function else None
    low, high = span or (0, len(text))
    start = low + round(typing.at * (high - low))
    end = min(start + typing.delete, len(text))
    if 0 < start < len(text) and text[start - 1 : start + 1] == "\r\n":
        start -= 1
    if 0 < end < len(text) and text[end - 1 : end + 1] == "\r\n":
        end += 1
    return start, max(start, end)


def common_ends(a: str, b: str) -> tuple[int, int]:
    """The lengths of the longest common head and (not overlapping it) tail."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


async def fix_once(
    editor: Editor, fake, name: str, source: str, typed: list[Typing], resolve: bool
) -> None:
    uri = editor.open(name, source)
    line = len(re.findall(r"\r\n|\r|\n", source[: source.index("len(value)")]))
    before = len(editor.messages())
    fake.fail("hang")
    requests = len(fake.requests)
    if resolve:
        [action, _] = await editor.actions(uri, line, [diagnostic(line, "len(value) is wrong")])
        task = asyncio.ensure_future(editor.client.code_action_resolve_async(action))
    else:
        task = asyncio.ensure_future(editor.command("codeEvolver.fixDiagnostics", uri=uri))
    assert await editor.wait_for(lambda: len(fake.requests) > requests, timeout=30)
    near = False
    for typing in typed:
        text = editor.texts[uri]
        start, end = place(text, typing)
        span = function_span(text)
        near = near or span is None or not (end < span[0] - 1 or start > span[1] + 1)
        editor.type_text(uri, start, end, typing.text)
    users = editor.texts[uri]
    fake.fail(None)
    answer = await asyncio.wait_for(task, 60)
    if resolve and answer.edit is not None:
        assert editor.apply(answer.edit)
    final = editor.texts[uri]
    said = editor.messages()[before:]
    if final == users:
        assert near, "refused although nothing was typed near the function"
        assert not [m for m in said if m.startswith("Fixed")]
        assert sum("changed while Code Evolver worked" in m for m in said) == 1
        return
    span = function_span(users)
    assert span is not None, "an edit was applied over a function the user changed"
    low, high = span
    head, tail = common_ends(users, final)
    assert head >= low and len(users) - tail <= high + 2, (users, final)
    assert "len(values)" in final
    assert [m for m in said if m.startswith("Fixed")] != []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
async def test_random_typing_never_loses_text(editor, fake, write_config, encoding):
    config = write_config(
        role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    )
    fake.reply = fence(FIXED_FUNCTION)
    await editor.start(
        config,
        capabilities=capabilities(encodings=[encoding]),
        overrides={"fix": {"max_attempts": 1}},
    )
    assert editor.encoding == encoding
    loop = asyncio.get_running_loop()
    names = (f"doc{n}.py" for n in itertools.count())

    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(documents(), st.lists(typings, max_size=3), st.booleans())
    def example(source: str, typed: list[Typing], resolve: bool) -> None:
        asyncio.run_coroutine_threadsafe(
            fix_once(editor, fake, next(names), source, typed, resolve), loop
        ).result(90)

    await asyncio.to_thread(example)
