"""Tests for taking code out of model replies and re-indenting it."""

from __future__ import annotations

import ast
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from code_evolver.pipeline.extract import (
    NoCodeInReply,
    extract_code,
    leading_indent,
    reindent,
)
from code_evolver.pipeline.lines import split_lines

FUNCTION = "def add(a, b):\n    return a + b"


def test_plain_fenced_block_loses_fences_and_prose() -> None:
    reply = f"Here is the fixed code:\n\n```python\n{FUNCTION}\n```\n\nThis adds the numbers."
    assert extract_code(reply) == FUNCTION


@pytest.mark.parametrize("info", ["python", "py", "python3", "Python", ""])
def test_python_info_strings_are_accepted(info: str) -> None:
    assert extract_code(f"```{info}\n{FUNCTION}\n```") == FUNCTION


def test_tilde_fence() -> None:
    assert extract_code(f"~~~python\n{FUNCTION}\n~~~\nDone.") == FUNCTION


def test_indented_fence_is_dedented_by_its_indentation() -> None:
    reply = "Use:\n\n    ```python\n    def add(a, b):\n        return a + b\n    ```\n"
    assert extract_code(reply) == FUNCTION


def test_unclosed_fence_takes_everything_after_it() -> None:
    reply = f"Sure!\n```python\n{FUNCTION}\n"
    assert extract_code(reply) == FUNCTION


def test_longer_closing_fence_closes_and_shorter_does_not() -> None:
    reply = "````python\ns = '''\n```\n'''\n````\ntrailing words"
    assert extract_code(reply) == "s = '''\n```\n'''"


def test_block_in_another_language_only_is_no_code() -> None:
    with pytest.raises(NoCodeInReply, match="contained no python code"):
        extract_code("Use this:\n```javascript\nconsole.log(1)\n```")


def test_python_block_is_picked_over_other_languages() -> None:
    reply = f"```bash\npip install x\n```\nThen:\n```python\n{FUNCTION}\n```\n```text\nout\n```"
    assert extract_code(reply) == FUNCTION


def test_block_defining_the_original_function_wins_over_a_longer_one() -> None:
    usage = "import sys\n\nfor line in sys.stdin:\n    print(add(*map(int, line.split())))\n"
    reply = f"```python\n{usage}```\n\nand the function:\n\n```python\n{FUNCTION}\n```"
    assert extract_code(reply, original="def add(a, b):\n    return a - b\n") == FUNCTION


def test_without_original_the_longest_parsing_block_wins() -> None:
    broken = "def add(a, b):\n    return a +\n    # a long comment that makes this block longest"
    reply = f"```python\n{broken}\n```\n```python\n{FUNCTION}\n```\n```python\nadd(1, 2)\n```"
    assert extract_code(reply) == FUNCTION


def test_codellama_python_tags() -> None:
    reply = f"[PYTHON]\n{FUNCTION}\n[/PYTHON]\n[TESTS]\nassert add(1, 2) == 3\n[/TESTS]"
    assert extract_code(reply) == FUNCTION


def test_python_tags_never_closed() -> None:
    assert extract_code(f"  [PYTHON]\n{FUNCTION}\n") == FUNCTION


def test_code_tag_is_unwrapped_and_unescaped() -> None:
    reply = "<code>def small(a):\n    return a &lt; 2\n</code>"
    assert extract_code(reply) == "def small(a):\n    return a < 2"


def test_no_fences_prose_lines_are_trimmed() -> None:
    reply = f"Here is the fixed code:\n\n{FUNCTION}\n\nThis function returns the sum."
    assert extract_code(reply) == FUNCTION


def test_no_fences_bare_words_that_parse_are_trimmed() -> None:
    reply = f"Explanation\n\n{FUNCTION}\n\nDone"
    assert extract_code(reply) == FUNCTION


def test_no_fences_longest_run_wins() -> None:
    reply = "x = 1\n\nThat sets x. Now the function:\n" + FUNCTION + "\n\nprint(add(1, 2))\nBye!"
    assert extract_code(reply) == FUNCTION + "\n\nprint(add(1, 2))"


def test_no_fences_indented_method_is_kept_as_is() -> None:
    reply = "Replace the method with:\n    def area(self):\n        return self.w * self.h\n"
    assert extract_code(reply) == "    def area(self):\n        return self.w * self.h"


@pytest.mark.parametrize(
    "reply",
    ["", "   \n\n", "I cannot help with that.", "Sure", "Sorry, the code looks correct to me."],
)
def test_replies_without_code(reply: str) -> None:
    with pytest.raises(NoCodeInReply):
        extract_code(reply)


def test_empty_python_block_is_no_code() -> None:
    with pytest.raises(NoCodeInReply):
        extract_code("```python\n\n```")


def test_no_code_in_reply_is_a_value_error() -> None:
    assert issubclass(NoCodeInReply, ValueError)
    assert str(NoCodeInReply()) == "The model's reply contained no python code"


def test_other_language_picks_its_own_block() -> None:
    reply = "```python\nprint(1)\n```\n```rust\nfn main() {}\n```"
    assert extract_code(reply, "rust") == "fn main() {}"


def test_leading_indent() -> None:
    assert leading_indent("    x = 1") == "    "
    assert leading_indent("\t\tx") == "\t\t"
    assert leading_indent("x") == ""
    assert leading_indent("   ") == "   "


def test_reindent_moves_code_to_the_given_indentation() -> None:
    assert reindent(FUNCTION, "    ") == "    def add(a, b):\n        return a + b"


def test_reindent_dedents_first() -> None:
    code = "        def add(a, b):\n            return a + b\n"
    assert reindent(code, "") == FUNCTION + "\n"


def test_reindent_blank_lines_become_empty() -> None:
    code = "def f():\n    x = 1\n   \n    return x"
    assert reindent(code, "  ") == "  def f():\n      x = 1\n\n      return x"


def test_reindent_first_line_less_indented_than_a_block_body() -> None:
    # The first line lost its indentation; the body kept its absolute indentation of 8.
    code = "def area(self):\n        if self.w:\n            return self.w * self.h\n"
    expected = "    def area(self):\n        if self.w:\n            return self.w * self.h\n"
    assert reindent(code, "    ") == expected


def test_reindent_first_line_less_indented_than_following_statements() -> None:
    code = "total = 0\n        for x in xs:\n            total += x"
    assert reindent(code, "") == "total = 0\nfor x in xs:\n    total += x"


def test_reindent_keeps_bracket_continuations() -> None:
    code = "result = compute(\n        1,\n        2)"
    assert ast.parse(reindent(code, "    ").strip())
    assert reindent(code, "") == code


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_extract_code_raises_only_no_code_in_reply(reply: str) -> None:
    try:
        code = extract_code(reply)
    except NoCodeInReply:
        return
    assert code.strip()


fence_pieces = st.sampled_from(
    ["```", "```python\n", "~~~", "[PYTHON]", "[/PYTHON]", "<code>", "</code>", "\n", "    ",
     "def f(x):\n", "    return x\n", "Here is the code:\n", "(", ":", "'''", "\t", "\x00"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(fence_pieces | st.text(max_size=5), max_size=30).map("".join), st.text(max_size=20))
def test_extract_code_on_markdown_like_noise(reply: str, original: str) -> None:
    with contextlib.suppress(NoCodeInReply):
        extract_code(reply, original=original)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(" \tab:(\n")), st.sampled_from(["", "  ", "\t"]))
def test_reindent_prefixes_every_non_blank_line(code: str, indent: str) -> None:
    out = reindent(code, indent)
    for line in split_lines(out):
        assert not line or line.startswith(indent)
    assert [line.strip() for line in split_lines(out) if line.strip()] == [
        line.strip() for line in split_lines(code) if line.strip()
    ]
